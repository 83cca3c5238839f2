"""Migration 0002 (users, sessions) on SQLite and PostgreSQL: accounts, sign-in bookkeeping and sessions
round-trip, and deleting a user's sessions is a real revocation."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from alarms.storage.store import Store
from dashboard.config import SessionConfig
from dashboard.sessions import SessionStore
from dashboard.users import LoginOutcome, UserStore


def test_users_and_sessions_round_trip(store: Store) -> None:
    name = f"u{secrets.token_hex(4)}"  # PostgreSQL keeps one database per module
    accounts = UserStore(store)
    user = accounts.add(name, "long enough password", "operator", streets=["S-1"], grids=None)
    assert user.streets == ("S-1",) and user.grids is None and not user.disabled
    assert user.principal().scope.allows("S-1", "G-9") and not user.principal().scope.allows("S-2", "G-9")
    bad = accounts.authenticate(name, "wrong password", max_failures=2, lockout_s=60)
    assert bad.outcome is LoginOutcome.INVALID
    ok = accounts.authenticate(name, "long enough password", max_failures=2, lockout_s=60)
    assert ok.outcome is LoginOutcome.OK and ok.user is not None

    sessions = SessionStore(store, SessionConfig())
    token, session = sessions.create(ok.user)
    found = sessions.resolve(token)
    assert found is not None and found.user.username == name and found.csrf == session.csrf
    accounts.set_disabled(name, True)
    assert sessions.resolve(token) is None
    with store.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() >= "0002"
