"""Cookie sessions for the operator page. The cookie holds a random token; the database holds only its
SHA-256, the user and a per-session CSRF token, so sign-out, password change and disabling a user end
sessions at once (a signed stateless cookie could not be revoked)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy import delete, insert, select, update

from alarms.storage.schema import sessions, users
from alarms.storage.store import Store
from dashboard.config import SessionConfig
from dashboard.users import User

COOKIE = "sharpeyes_session"
SECURE_COOKIE = "__Host-sharpeyes_session"  # the prefix makes browsers insist on Secure, Path=/, no Domain
CSRF_HEADER = "x-csrf-token"
TOUCH_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Session:
    key: str  # sha256 of the cookie value
    user: User
    csrf: str
    expires_at: float


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, store: Store, config: SessionConfig, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    def create(self, user: User) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.config.ttl_s
        with self.store.write() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_at < now))  # housekeeping, cheap
            conn.execute(
                insert(sessions).values(
                    id=_key(token),
                    user_id=user.id,
                    csrf=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                )
            )
        return token, Session(_key(token), user, csrf, expires)

    def resolve(self, token: str) -> Session | None:
        """The live session for a cookie value, or None (unknown, expired, idle too long, user disabled)."""
        if not token or len(token) > 128:
            return None
        key = _key(token)
        now = self.clock()
        with self.store.read() as conn:
            row = (
                conn.execute(
                    select(sessions.c.csrf, sessions.c.last_seen_at, sessions.c.expires_at, users)
                    .join(users, users.c.id == sessions.c.user_id)
                    .where(sessions.c.id == key)
                )
                .mappings()
                .first()
            )
        if row is None or row["disabled"] or now >= row["expires_at"]:
            return None
        if now - row["last_seen_at"] > self.config.idle_timeout_s:
            self.revoke(token)
            return None
        if now - row["last_seen_at"] > TOUCH_EVERY_S:  # not every request: writes share the alarm path's lock
            with self.store.write() as conn:
                conn.execute(update(sessions).where(sessions.c.id == key).values(last_seen_at=now))
        return Session(key, User.from_row(row), row["csrf"], row["expires_at"])

    def revoke(self, token: str) -> None:
        with self.store.write() as conn:
            conn.execute(delete(sessions).where(sessions.c.id == _key(token)))

    # ----- cookies -------------------------------------------------------------------------------------
    def secure(self, request: Request) -> bool:
        if self.config.cookie_secure is not None:
            return self.config.cookie_secure
        return request.url.scheme == "https"

    def cookie_value(self, request: Request) -> str | None:
        return request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE)

    def set_cookie(self, request: Request, response: Response, token: str) -> None:
        secure = self.secure(request)
        response.set_cookie(
            SECURE_COOKIE if secure else COOKIE,
            token,
            max_age=int(self.config.ttl_s),
            path="/",
            secure=secure,
            httponly=True,
            samesite="strict",
        )

    def clear_cookie(self, response: Response) -> None:
        for name, secure in ((COOKIE, False), (SECURE_COOKIE, True)):
            response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="strict")


def csrf_ok(request: Request, session: Session) -> bool:
    """Writes made with a cookie must carry the session's CSRF token in a header (a cross-site form cannot
    set headers) and, when the browser says where it came from, come from this origin."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return False
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(sent) and hmac.compare_digest(sent.encode(), session.csrf.encode())
