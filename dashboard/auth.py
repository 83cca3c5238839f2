"""Bearer-token authentication and role checks. Tokens come from environment variables; only their
SHA-256 is kept in memory, and comparison is by digest lookup, never by a timing-leaky string compare."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from alarms.queries import Scope

ROLE_RANK = {"field": 0, "operator": 1, "supervisor": 2, "admin": 3}  # field: the phone page (issue 15)


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    scope: Scope = field(default_factory=Scope)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class TokenBook:
    by_digest: dict[str, Principal]

    @classmethod
    def build(cls, tokens: list[tuple[str, Principal]]) -> TokenBook:
        return cls({digest(tok): p for tok, p in tokens if tok})

    def lookup(self, token: str) -> Principal | None:
        return self.by_digest.get(digest(token))


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def current_principal(request: Request) -> Principal:
    """A bearer token wins; otherwise the operator page's session cookie (with CSRF checks on writes).
    Either way the same role and scope checks follow."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        principal = getattr(request.state, "principal", None)
        if principal is not None:
            return principal
        signin = getattr(request.app.state, "signin", None)  # dashboard.signin.SignIn, when users exist
        principal = signin.cookie_principal(request) if signin is not None else None
        if principal is not None:
            return principal
        raise _unauthorised("missing bearer token or session")
    found = request.app.state.services.tokens.lookup(token.strip())
    if found is None:
        raise _unauthorised("invalid token")
    return found


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def still_signed_in(request: Request) -> bool:
    """For long-lived streams: bearer tokens cannot be revoked at run time; a cookie session can (sign-out,
    disabled user, new password), and then the stream must end."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    signin = getattr(request.app.state, "signin", None)
    if signin is None:
        return False
    token = signin.sessions.cookie_value(request)
    return bool(token) and signin.sessions.resolve(token) is not None


def require(role: str) -> Callable[[Principal], Principal]:
    """A dependency that lets `role` or higher through (403 otherwise)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.at_least(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {role} or higher")
        return principal

    return check


Operator = Annotated[Principal, Depends(require("operator"))]
Supervisor = Annotated[Principal, Depends(require("supervisor"))]
Admin = Annotated[Principal, Depends(require("admin"))]
