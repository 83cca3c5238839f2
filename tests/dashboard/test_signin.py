"""Users, cookie sessions, CSRF, lockout and rate limiting through the real app on SQLite (TestClient runs
the lifespan). The same role and scope rules as bearer tokens must hold for cookie sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alarms.storage.schema import sessions, users
from dashboard.app import create_app
from dashboard.config import AuthConfig, SessionConfig
from dashboard.sessions import COOKIE, SECURE_COOKIE
from dashboard.users import UserError, UserStore
from tests.dashboard.test_api import FakeRuntime

PASSWORD = "a long enough password"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[FakeRuntime]:
    rt = FakeRuntime(tmp_path / "auth.db")
    rt.services.auth = AuthConfig(
        sessions=SessionConfig(max_failures=3, lockout_s=600, attempts_per_minute=50)
    )
    accounts = UserStore(rt.store, clock=lambda: rt.clock.now)
    accounts.add("op", PASSWORD, "operator")
    accounts.add("s2", PASSWORD, "operator", streets=["S-2"])
    accounts.add("sup", PASSWORD, "supervisor", grids=["G-001"])
    yield rt
    rt.store.close()


@pytest.fixture
def client(runtime: FakeRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def login(client: TestClient, username: str = "op", password: str = PASSWORD, **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", json={"username": username, "password": password}, headers=headers)


def signed_in(client: TestClient, username: str = "op") -> str:
    r = login(client, username)
    assert r.status_code == 200, r.text
    return r.json()["csrf"]


# ----- users ---------------------------------------------------------------------------------------------
def test_passwords_are_stored_as_argon2id_never_in_clear(runtime: FakeRuntime) -> None:
    with runtime.store.read() as conn:
        hashes = conn.execute(select(users.c.password_hash)).scalars().all()
    assert len(hashes) == 3
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert len(set(hashes)) == 3  # salted


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("op", PASSWORD, "operator", "exists"),
        ("new", "short", "operator", "at least 10"),
        ("new", PASSWORD, "root", "unknown role"),
        ("bad name", PASSWORD, "operator", "username"),
    ],
)
def test_user_add_refuses(
    runtime: FakeRuntime, username: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        UserStore(runtime.store).add(username, password, role)


# ----- sessions --------------------------------------------------------------------------------------------
def test_sign_in_sets_a_strict_httponly_cookie_holding_no_secret_of_the_database(
    client: TestClient, runtime: FakeRuntime
) -> None:
    r = login(client)
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "op" and body["role"] == "operator" and body["csrf"]
    header = r.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=") and "HttpOnly" in header and "SameSite=strict" in header
    assert "Secure" not in header  # plain http in this test; https below
    token = client.cookies[COOKIE]
    with runtime.store.read() as conn:
        keys = conn.execute(select(sessions.c.id)).scalars().all()
    assert len(keys) == 1 and token not in keys[0]  # only the digest is stored
    assert client.get("/api/incidents").status_code == 200
    assert client.get("/auth/me").json()["csrf"] == body["csrf"]


def test_over_https_the_cookie_is_secure_and_host_prefixed(runtime: FakeRuntime) -> None:
    with TestClient(create_app(runtime), base_url="https://testserver") as c:
        r = login(c)
        header = r.headers["set-cookie"]
        assert header.startswith(f"{SECURE_COOKIE}=") and "Secure" in header and "HttpOnly" in header
        assert c.get("/api/incidents").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(client: TestClient) -> None:
    a = login(client, "op", "wrong password!")
    b = login(client, "nobody", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    assert COOKIE not in client.cookies


def test_cookie_writes_need_the_sessions_csrf_token_and_same_origin(
    client: TestClient, runtime: FakeRuntime
) -> None:
    inc = runtime.press("B-001")
    csrf = signed_in(client)
    url = f"/api/incidents/{inc}/acknowledge"
    assert client.post(url, json={}).status_code == 403
    assert client.post(url, json={}, headers={"x-csrf-token": "forged"}).status_code == 403
    cross = {"x-csrf-token": csrf, "origin": "https://evil.example"}
    assert client.post(url, json={}, headers=cross).status_code == 403
    r = client.post(url, json={"note": "seen"}, headers={"x-csrf-token": csrf, "origin": "http://testserver"})
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    timeline = client.get(f"/api/incidents/{inc}").json()["timeline"]
    assert timeline[-1]["actor"] == "op"  # the user's own name on the record


def test_bearer_tokens_need_no_csrf(client: TestClient, runtime: FakeRuntime) -> None:
    inc = runtime.press("B-001")
    r = client.post(
        f"/api/incidents/{inc}/acknowledge", json={}, headers={"Authorization": "Bearer tok-operator"}
    )
    assert r.status_code == 200


def test_cookie_sessions_get_the_same_scope_and_role_checks(client: TestClient, runtime: FakeRuntime) -> None:
    s1, s2 = runtime.press("B-001"), runtime.press("B-003")
    csrf = signed_in(client, "s2")
    assert [i["id"] for i in client.get("/api/incidents").json()["items"]] == [s2]
    assert client.get(f"/api/incidents/{s1}").status_code == 404
    assert (
        client.post(f"/api/incidents/{s1}/acknowledge", json={}, headers={"x-csrf-token": csrf}).status_code
        == 404
    )
    assert [g["id"] for g in client.get("/api/grids").json()["items"]] == ["G-003"]
    assert list(client.get("/api/kpis").json()["streets"]) == ["S-2"]
    assert (
        client.post("/api/deliveries/1/retry", headers={"x-csrf-token": csrf}).status_code == 403
    )  # supervisor+


def test_sign_out_ends_the_session_server_side(client: TestClient) -> None:
    csrf = signed_in(client)
    token = client.cookies[COOKIE]
    assert client.post("/auth/logout").status_code == 403  # no CSRF token: another site cannot sign you out
    assert client.post("/auth/logout", headers={"x-csrf-token": csrf}).status_code == 204
    client.cookies.set(COOKIE, token)  # replaying the old cookie does not work
    assert client.get("/api/incidents").status_code == 401


def test_sessions_expire_when_idle_and_after_their_lifetime(client: TestClient, runtime: FakeRuntime) -> None:
    cfg = runtime.services.auth.sessions
    signed_in(client)
    runtime.clock.now += cfg.idle_timeout_s - 10
    assert client.get("/api/incidents").status_code == 200  # and this request keeps it alive
    runtime.clock.now += cfg.idle_timeout_s - 10
    assert client.get("/api/incidents").status_code == 200
    runtime.clock.now += cfg.idle_timeout_s + 1
    assert client.get("/api/incidents").status_code == 401
    signed_in(client)
    for _ in range(int(cfg.ttl_s // 3600) + 1):
        runtime.clock.now += 3600
        status = client.get("/api/incidents").status_code
    assert status == 401  # no request keeps a session past its lifetime


def test_password_change_and_disable_end_sessions(client: TestClient, runtime: FakeRuntime) -> None:
    accounts = UserStore(runtime.store)
    signed_in(client)
    accounts.set_password("op", "another long password")
    assert client.get("/api/incidents").status_code == 401
    assert login(client).status_code == 401
    assert login(client, password="another long password").status_code == 200
    accounts.set_disabled("op", True)
    assert client.get("/api/incidents").status_code == 401
    assert login(client, password="another long password").status_code == 401


def test_repeated_failures_lock_the_account_for_a_while(client: TestClient, runtime: FakeRuntime) -> None:
    assert [login(client, "op", "wrong password!").status_code for _ in range(3)] == [401, 401, 423]
    locked = login(client)  # even the right password
    assert locked.status_code == 423 and int(locked.headers["retry-after"]) > 0
    assert login(client, "s2").status_code == 200  # other accounts are not affected
    runtime.clock.now += 601
    assert login(client).status_code == 200


def test_sign_in_attempts_are_rate_limited_per_address(client: TestClient, runtime: FakeRuntime) -> None:
    app_signin = client.app.state.signin  # type: ignore[attr-defined]
    app_signin.limiter.limit = 4
    codes = [login(client, f"nobody{i}", "wrong password!").status_code for i in range(6)]
    assert codes == [401, 401, 401, 401, 429, 429]


def test_sign_in_from_another_site_is_refused(client: TestClient) -> None:
    assert login(client, origin="https://evil.example").status_code == 403


# ----- pages ---------------------------------------------------------------------------------------------
def test_operator_page_needs_a_session_and_carries_a_strict_csp(client: TestClient) -> None:
    r = client.get("/ui/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    signed_in(client)
    ui = client.get("/ui/")
    assert ui.status_code == 200 and 'src="/static/js/app.js"' in ui.text
    assert client.get("/static/js/app.js").headers["content-type"].startswith("text/javascript")


# Strings in vendored code that name a URL but fetch nothing: XML namespaces, and Leaflet's attribution
# prefix, a link that map_geo.js never shows (setPrefix(false)).
NOT_FETCHED = (
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/2000/xmlns/",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/XML/1998/namespace",
    "http://www.apache.org/licenses/LICENSE-2.0",  # licence headers ECharts must keep
    "https://github.com/ecomfe/zrender/blob/master/LICENSE.txt",
    '<a href="https://leafletjs.com"',
)


def test_static_assets_reference_nothing_off_the_origin() -> None:
    static = Path(__file__).resolve().parents[2] / "dashboard" / "static"
    for path in static.rglob("*"):
        if path.suffix in {".html", ".js", ".css"}:
            text = path.read_text(encoding="utf-8")
            for allowed in NOT_FETCHED:
                text = text.replace(allowed, "")
            assert "http://" not in text and "https://" not in text, path


def test_live_stream_ends_when_the_session_is_signed_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An open SSE stream re-checks its session: sign-out stops it, not just new requests."""
    import threading
    import time

    import dashboard.api

    monkeypatch.setattr(dashboard.api, "SESSION_RECHECK_S", 0.2)
    csrf = signed_in(client)
    token = client.cookies[COOKIE]
    ended = threading.Event()
    lines: list[str] = []

    def listen() -> None:
        listener = TestClient(client.app)
        listener.cookies.set(COOKIE, token)
        with listener.stream("GET", "/api/events") as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                lines.append(line)
        ended.set()

    threading.Thread(target=listen, daemon=True).start()
    deadline = time.monotonic() + 5
    while ": connected" not in lines and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ": connected" in lines
    assert not ended.wait(1.0)  # signed in: the stream stays open
    assert client.post("/auth/logout", headers={"x-csrf-token": csrf}).status_code == 204
    assert ended.wait(5.0)  # signed out: it ends by itself
