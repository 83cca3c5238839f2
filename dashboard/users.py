"""Operator accounts: argon2id password hashes, roles with optional street/grid scope, and lockout after
repeated failed sign-ins. There is no default account and no default password: `sharpeyes user add`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update

from alarms.queries import Scope
from alarms.storage.schema import sessions, users
from alarms.storage.store import Store
from dashboard.auth import ROLE_RANK, Principal

MIN_PASSWORD_LENGTH = 10
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")


class UserError(ValueError):
    """A user command that cannot be carried out (duplicate name, weak password, unknown role …)."""


class LoginOutcome(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # unknown user, wrong password or disabled: one answer, so names are not probed
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str | None
    role: str
    streets: tuple[str, ...] | None
    grids: tuple[str, ...] | None
    disabled: bool
    last_login_at: float | None
    locked_until: float | None
    failed_logins: int

    @classmethod
    def from_row(cls, r: Any) -> User:
        return cls(
            r["id"],
            r["username"],
            r["display_name"],
            r["role"],
            tuple(r["streets"]) if r["streets"] is not None else None,
            tuple(r["grids"]) if r["grids"] is not None else None,
            bool(r["disabled"]),
            r["last_login_at"],
            r["locked_until"],
            r["failed_logins"],
        )

    def principal(self) -> Principal:
        scope = Scope(
            frozenset(self.streets) if self.streets is not None else None,
            frozenset(self.grids) if self.grids is not None else None,
        )
        return Principal(self.username, self.role, scope)


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    retry_after_s: float | None = None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise UserError("password longer than 1024 characters")


def _check_username(username: str) -> None:
    if not 1 <= len(username) <= 64 or not set(username) <= USERNAME_CHARS:
        raise UserError("username: 1-64 characters of letters, digits and . _ - @")


class UserStore:
    """Hashing runs outside the store's write lock (it takes ~50 ms by design); only the bookkeeping
    writes take it, so sign-ins never hold up the alarm path."""

    def __init__(
        self, store: Store, clock: Callable[[], float] = time.time, hasher: PasswordHasher | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash("not a password of anyone")

    # ----- admin commands ------------------------------------------------------------------------------
    def add(
        self,
        username: str,
        password: str,
        role: str,
        streets: Sequence[str] | None = None,
        grids: Sequence[str] | None = None,
        display_name: str | None = None,
    ) -> User:
        _check_username(username)
        check_password(password)
        if role not in ROLE_RANK:
            raise UserError(f"unknown role {role!r}; known: {sorted(ROLE_RANK)}")
        hashed = self.hasher.hash(password)
        now = self.clock()
        with self.store.write() as conn:
            if conn.execute(select(users.c.id).where(users.c.username == username)).first():
                raise UserError(f"user {username!r} exists")
            conn.execute(
                insert(users).values(
                    username=username,
                    display_name=display_name,
                    password_hash=hashed,
                    role=role,
                    streets=list(streets) if streets is not None else None,
                    grids=list(grids) if grids is not None else None,
                    disabled=False,
                    created_at=now,
                    updated_at=now,
                    password_changed_at=now,
                    failed_logins=0,
                )
            )
        found = self.get(username)
        assert found is not None
        return found

    def get(self, username: str) -> User | None:
        with self.store.read() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        return User.from_row(row) if row else None

    def list(self) -> list[User]:
        with self.store.read() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).mappings().all()
        return [User.from_row(r) for r in rows]

    def display_names(self) -> dict[str, str]:
        """Username → display name, for the page to show people by name (timeline actors, viewers)."""
        with self.store.read() as conn:
            rows = conn.execute(select(users.c.username, users.c.display_name)).all()
        return {r[0]: r[1] for r in rows if r[1]}

    def set_password(self, username: str, password: str) -> None:
        """New password; every session of the user ends and any lockout is lifted."""
        check_password(password)
        hashed = self.hasher.hash(password)
        now = self.clock()
        self._update(
            username,
            password_hash=hashed,
            password_changed_at=now,
            updated_at=now,
            failed_logins=0,
            locked_until=None,
        )

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disabling ends every session of the user at once."""
        self._update(username, disabled=disabled, updated_at=self.clock())

    def _update(self, username: str, **values: Any) -> None:
        with self.store.write() as conn:
            row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
            if row is None:
                raise UserError(f"no user {username!r}")
            conn.execute(update(users).where(users.c.id == row.id).values(**values))
            conn.execute(delete(sessions).where(sessions.c.user_id == row.id))

    # ----- sign-in -------------------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, max_failures: int, lockout_s: float) -> LoginResult:
        now = self.clock()
        with self.store.read() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            self._verify(self._dummy_hash, password)  # same cost as a real check: no timing oracle
            return LoginResult(LoginOutcome.INVALID)
        user = User.from_row(row)
        if user.locked_until is not None and now < user.locked_until:
            return LoginResult(LoginOutcome.LOCKED, retry_after_s=user.locked_until - now)
        ok = self._verify(row["password_hash"], password)
        if not ok or user.disabled:
            if not ok:
                return self._failed(user, now, max_failures, lockout_s)
            return LoginResult(LoginOutcome.INVALID)
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if self.hasher.check_needs_rehash(row["password_hash"]):
            values["password_hash"] = self.hasher.hash(password)
        with self.store.write() as conn:
            conn.execute(update(users).where(users.c.id == user.id).values(**values))
        return LoginResult(LoginOutcome.OK, user)

    def _failed(self, user: User, now: float, max_failures: int, lockout_s: float) -> LoginResult:
        with self.store.write() as conn:
            conn.execute(
                update(users).where(users.c.id == user.id).values(failed_logins=users.c.failed_logins + 1)
            )
            count = conn.execute(select(users.c.failed_logins).where(users.c.id == user.id)).scalar_one()
            if count >= max_failures:
                conn.execute(
                    update(users)
                    .where(users.c.id == user.id)
                    .values(failed_logins=0, locked_until=now + lockout_s)
                )
                return LoginResult(LoginOutcome.LOCKED, retry_after_s=lockout_s)
        return LoginResult(LoginOutcome.INVALID)

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def count(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())
