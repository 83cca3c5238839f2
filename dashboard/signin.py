"""Sign-in, sign-out and "who am I" for the operator page, and the cookie side of authentication that
`dashboard.auth.current_principal` falls back to when a request has no bearer token."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from alarms.locale import DEFAULT_TIMEZONE
from alarms.storage.store import Store
from dashboard.auth import CurrentPrincipal, Principal
from dashboard.config import SessionConfig
from dashboard.ratelimit import RateLimiter
from dashboard.responses import Me
from dashboard.sessions import Session, SessionStore, csrf_ok
from dashboard.users import LoginOutcome, UserStore

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignIn:
    """Everything cookie authentication needs, built once per app from the store and config."""

    def __init__(
        self,
        store: Store,
        config: SessionConfig,
        clock: Callable[[], float] = time.time,
        users: UserStore | None = None,
    ) -> None:
        self.config = config
        self.users = users or UserStore(store, clock)
        self.sessions = SessionStore(store, config, clock)
        self.limiter = RateLimiter(config.attempts_per_minute, 60.0)

    def session(self, request: Request) -> Session | None:
        """The request's session, cached on the request so one request reads it once."""
        if getattr(request.state, "session_resolved", False):
            return request.state.session
        token = self.sessions.cookie_value(request)
        found = self.sessions.resolve(token) if token else None
        request.state.session = found
        request.state.session_resolved = True
        return found

    def cookie_principal(self, request: Request) -> Principal | None:
        """None without a live session; 403 for a cookie write without a valid CSRF token."""
        found = self.session(request)
        if found is None:
            return None
        if request.method not in SAFE_METHODS and not csrf_ok(request, found):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
        return found.user.principal()


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


router = APIRouter(prefix="/auth", tags=["auth"])


def _signin(request: Request) -> SignIn:
    return request.app.state.signin


def _me(principal: Principal, csrf: str | None, display_name: str | None = None) -> dict[str, Any]:
    scope = principal.scope
    return {
        "name": principal.name,
        "display_name": display_name,
        "role": principal.role,
        "streets": sorted(scope.streets) if scope.streets is not None else None,
        "grids": sorted(scope.grids) if scope.grids is not None else None,
        "csrf": csrf,
        "server_time": time.time(),
    }


@router.post("/login", response_model=Me)
async def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    signin = _signin(request)
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site sign-in refused")  # login CSRF
    client = request.client.host if request.client else "unknown"
    wait = signin.limiter.allow(client)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many sign-in attempts; try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    cfg = signin.config
    result = await run_in_threadpool(
        signin.users.authenticate, body.username, body.password, cfg.max_failures, cfg.lockout_s
    )
    if result.outcome is LoginOutcome.LOCKED:
        log.warning("sign-in refused: account %r locked (from %s)", body.username, client)
        raise HTTPException(
            status.HTTP_423_LOCKED,
            "account locked after repeated failed sign-ins; try again later",
            headers={"Retry-After": str(int(result.retry_after_s or cfg.lockout_s) + 1)},
        )
    if result.outcome is not LoginOutcome.OK or result.user is None:
        log.info("sign-in failed for %r from %s", body.username, client)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    old = signin.sessions.cookie_value(request)
    if old:
        await run_in_threadpool(signin.sessions.revoke, old)  # no session fixation
    token, session = await run_in_threadpool(signin.sessions.create, result.user)
    signin.sessions.set_cookie(request, response, token)
    log.info("user %s signed in from %s", result.user.username, client)
    return _me(result.user.principal(), session.csrf, result.user.display_name) | _locale(request)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, _: CurrentPrincipal) -> Response:
    """Needs the session and its CSRF token (through CurrentPrincipal), so no other site can sign you out."""
    signin = _signin(request)
    token = signin.sessions.cookie_value(request)
    if token:
        await run_in_threadpool(signin.sessions.revoke, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    signin.sessions.clear_cookie(response)
    return response


@router.get("/me", response_model=Me)
def me(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    session = getattr(request.state, "session", None)
    shown = session.user.display_name if session is not None else None
    return _me(principal, session.csrf if session is not None else None, shown) | _locale(request)


def _locale(request: Request) -> dict[str, Any]:
    """The configured time zone: the page shows every time in it, whatever the browser's own zone."""
    services = getattr(request.app.state, "services", None)
    return {"timezone": services.timezone if services is not None else DEFAULT_TIMEZONE}
