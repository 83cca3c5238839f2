"""Every route of the real app × every kind of caller → the expected status, from one table keyed by route.

The routes are enumerated from `create_app` itself, so a route added later without a row here fails
`test_every_route_has_a_row` until someone decides who may call it. Requests go through the whole ASGI
stack (middlewares, dependencies, the lifespan's state) on SQLite; the driver stops reading at the status
line, so streaming routes (the event stream) are covered like any other.

Anonymous access is allowed only for the routes in ANONYMOUS — the liveness probe, the sign-in page and
its POST, static assets (and the names module the pages import), and redirects that carry no data (`/`,
`/ui`, and `/ui/` which sends anyone without a session to `/login`). Everything else answers 401 without
credentials."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount
from starlette.types import Message

from alarms.queries import Scope
from dashboard.app import create_app
from dashboard.auth import Principal, TokenBook
from dashboard.users import UserStore
from tests.dashboard.test_api import TOKENS, FakeRuntime, _dead_delivery

# Callers. "oos" = out of scope: the incident under test is on street S-1, these see street S-2 only.
CALLERS = ("anonymous", "operator", "supervisor", "admin", "oos_operator", "oos_supervisor")
EXTRA_TOKENS = {
    "oos_operator": ("tok-oos-op", Principal("oos-op", "operator", Scope(streets=frozenset({"S-2"})))),
    "oos_supervisor": ("tok-oos-sup", Principal("oos-sup", "supervisor", Scope(streets=frozenset({"S-2"})))),
}

PASSWORD = "a long enough password"
INCIDENT = "{incident}"  # replaced by the id of an incident on S-1
DELIVERY = "{delivery}"  # replaced by the id of its dead webhook delivery


def row(path: str, *statuses: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    assert len(statuses) == len(CALLERS)
    return {"path": path, "body": body, "expect": dict(zip(CALLERS, statuses, strict=True))}


# (method, route path) → a concrete request and the status per caller, in CALLERS order:
#                      anonymous  operator  supervisor  admin  oos_operator  oos_supervisor
TABLE: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/healthz"): row("/healthz", 200, 200, 200, 200, 200, 200),
    ("GET", "/readyz"): row("/readyz", 401, 200, 200, 200, 200, 200),
    ("GET", "/metrics"): row("/metrics", 401, 200, 200, 200, 200, 200),
    ("GET", "/openapi.json"): row("/openapi.json", 401, 200, 200, 200, 200, 200),
    ("GET", "/docs"): row("/docs", 401, 200, 200, 200, 200, 200),
    ("MOUNT", "/docs-static"): row("/docs-static/swagger-ui.css", 200, 200, 200, 200, 200, 200),
    ("MOUNT", "/static"): row("/static/js/app.js", 200, 200, 200, 200, 200, 200),
    ("GET", "/"): row("/", 303, 303, 303, 303, 303, 303),
    ("GET", "/ui"): row("/ui", 307, 307, 307, 307, 307, 307),
    ("GET", "/ui/"): row("/ui/", 303, 303, 303, 303, 303, 303),  # the page needs a cookie session
    ("GET", "/login"): row("/login", 200, 200, 200, 200, 200, 200),
    ("POST", "/auth/login"): row(
        "/auth/login", 200, 200, 200, 200, 200, 200, body={"username": "alice", "password": PASSWORD}
    ),
    ("POST", "/auth/logout"): row("/auth/logout", 401, 204, 204, 204, 204, 204),
    ("GET", "/auth/me"): row("/auth/me", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/incidents"): row("/api/incidents", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/incidents/{incident_id}"): row(f"/api/incidents/{INCIDENT}", 401, 200, 200, 200, 404, 404),
    ("POST", "/api/incidents/{incident_id}/{action}"): row(
        f"/api/incidents/{INCIDENT}/acknowledge", 401, 200, 200, 200, 404, 404, body={}
    ),
    ("POST", "/api/incidents/{incident_id}/viewers"): row(
        f"/api/incidents/{INCIDENT}/viewers", 401, 200, 200, 200, 404, 404, body={}
    ),
    ("GET", "/api/incidents/{incident_id}/snapshot"): row(
        f"/api/incidents/{INCIDENT}/snapshot",
        401,
        404,
        404,
        404,
        404,
        404,  # an SOS has no picture
    ),
    ("GET", "/api/devices"): row("/api/devices", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/deliveries"): row("/api/deliveries", 401, 200, 200, 200, 200, 200),
    ("POST", "/api/deliveries/{delivery_id}/retry"): row(
        f"/api/deliveries/{DELIVERY}/retry", 401, 403, 200, 200, 403, 404
    ),
    ("GET", "/api/kpis"): row("/api/kpis", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/events"): row("/api/events", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/grids"): row("/api/grids", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/trends"): row("/api/trends", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/map"): row("/api/map", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/cameras"): row("/api/cameras", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/incidents/{incident_id}/merge-candidates"): row(
        f"/api/incidents/{INCIDENT}/merge-candidates", 401, 200, 200, 200, 404, 404
    ),
    ("GET", "/api/silence-policy"): row("/api/silence-policy", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/silences"): row("/api/silences", 401, 200, 200, 200, 200, 200),
    ("POST", "/api/silences/{silence_id}/lift"): row(
        "/api/silences/999999/lift", 401, 404, 404, 404, 404, 404, body={}
    ),
    ("GET", "/api/snapshots/{camera_id}/{filename}"): row(
        "/api/snapshots/CAM-01/x.jpg", 401, 404, 404, 404, 404, 404
    ),
    # Evidence clips (no cameras here, so no clips: in-scope callers get 404; never anonymous, bar a signed
    # link, which this app without clips cannot mint). tests/e2e/test_clips.py plays real ones.
    ("GET", "/api/clips/{clip_id}"): row(
        "/api/clips/CAM-01~20260101T000000000", 401, 404, 404, 404, 404, 404
    ),
    ("POST", "/api/clips/{clip_id}/link"): row(
        "/api/clips/CAM-01~20260101T000000000/link", 401, 404, 404, 404, 404, 404, body={}
    ),
    ("GET", "/api/signed-clips/{clip_id}"): row(
        "/api/signed-clips/CAM-01~20260101T000000000?expires=1&sig=x", 404, 404, 404, 404, 404, 404
    ),
    ("GET", "/api/incidents/{incident_id}/clips"): row(
        f"/api/incidents/{INCIDENT}/clips", 401, 200, 200, 200, 404, 404
    ),
    # Live video (no cameras in this app: in-scope callers get 404 too; tests/dashboard/test_live_api.py
    # covers scope with real cameras).
    ("POST", "/api/cameras/{camera_id}/webrtc"): row(
        "/api/cameras/CAM-01/webrtc",
        401,
        404,
        404,
        404,
        404,
        404,
        body={"sdp": "v=0 an offer", "type": "offer"},
    ),
    ("DELETE", "/api/cameras/{camera_id}/webrtc/{peer_id}"): row(
        "/api/cameras/CAM-01/webrtc/p1", 401, 404, 404, 404, 404, 404
    ),
    ("GET", "/api/cameras/{camera_id}/mjpeg"): row("/api/cameras/CAM-01/mjpeg", 401, 404, 404, 404, 404, 404),
    ("GET", "/api/cameras/{camera_id}/frame.jpg"): row(
        "/api/cameras/CAM-01/frame.jpg", 401, 404, 404, 404, 404, 404
    ),
    ("GET", "/api/cameras/{camera_id}/detections"): row(
        "/api/cameras/CAM-01/detections", 401, 404, 404, 404, 404, 404
    ),
    ("GET", "/api/live"): row("/api/live", 401, 403, 403, 200, 403, 403),
    ("GET", "/api/search"): row("/api/search", 401, 200, 200, 200, 200, 200),  # scope: test_search_api.py
    ("GET", "/api/search/export.csv"): row("/api/search/export.csv", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/search/export.xlsx"): row("/api/search/export.xlsx", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/reports/kpis.xlsx"): row("/api/reports/kpis.xlsx", 401, 200, 200, 200, 200, 200),
    ("GET", "/api/reports/kpis.html"): row("/api/reports/kpis.html", 401, 200, 200, 200, 200, 200),
    # The names of categories and states the pages import before anyone signs in (the sign-in page too).
    ("GET", "/api/labels.js"): row("/api/labels.js", 200, 200, 200, 200, 200, 200),
    # The field loop (issue 15; the `field` role and people on the roster: tests/dashboard/test_field_api.py).
    # Nobody is on this app's roster: dispatches name nobody (409), field actions need a person (403).
    ("GET", "/field"): row("/field", 303, 303, 303, 303, 303, 303),  # the phone page needs a cookie session
    ("GET", "/api/field/roster"): row("/api/field/roster", 401, 404, 404, 404, 404, 404),  # no grid asked
    ("GET", "/api/field/incidents/{incident_id}"): row(
        f"/api/field/incidents/{INCIDENT}", 401, 200, 200, 200, 404, 404
    ),
    ("POST", "/api/field/incidents/{incident_id}/dispatch"): row(
        f"/api/field/incidents/{INCIDENT}/dispatch", 401, 409, 409, 409, 404, 404, body={"lead": {"id": "x"}}
    ),
    ("POST", "/api/field/incidents/{incident_id}/urge"): row(
        f"/api/field/incidents/{INCIDENT}/urge", 401, 403, 409, 409, 403, 404, body={"note": "快"}
    ),
    ("POST", "/api/field/incidents/{incident_id}/review"): row(
        f"/api/field/incidents/{INCIDENT}/review", 401, 409, 409, 409, 404, 404, body={"decision": "close"}
    ),
    ("POST", "/api/field/incidents/{incident_id}/callback"): row(
        f"/api/field/incidents/{INCIDENT}/callback",
        401,
        409,
        409,
        409,
        404,
        404,
        body={"satisfaction": "satisfied"},
    ),
    ("GET", "/api/field/tasks"): row("/api/field/tasks", 401, 403, 403, 403, 403, 403),
    ("POST", "/api/field/incidents/{incident_id}/accept"): row(
        f"/api/field/incidents/{INCIDENT}/accept", 401, 403, 403, 403, 404, 404
    ),
    ("POST", "/api/field/incidents/{incident_id}/arrive"): row(
        f"/api/field/incidents/{INCIDENT}/arrive", 401, 403, 403, 403, 404, 404, body={}
    ),
    ("POST", "/api/field/incidents/{incident_id}/progress"): row(
        f"/api/field/incidents/{INCIDENT}/progress", 401, 403, 403, 403, 404, 404, body={"note": "x"}
    ),
    ("POST", "/api/field/incidents/{incident_id}/resolve"): row(
        f"/api/field/incidents/{INCIDENT}/resolve", 401, 403, 403, 403, 404, 404, body={"note": "x"}
    ),
    ("POST", "/api/field/incidents/{incident_id}/photos"): row(  # a JSON body is no picture: 415
        f"/api/field/incidents/{INCIDENT}/photos", 401, 415, 415, 415, 404, 404, body={}
    ),
    ("GET", "/api/field/photos/{photo_id}"): row("/api/field/photos/999999", 401, 404, 404, 404, 404, 404),
    ("GET", "/api/field/photos/{photo_id}/thumb"): row(
        "/api/field/photos/999999/thumb", 401, 404, 404, 404, 404, 404
    ),
    ("GET", "/api/field/kpis"): row("/api/field/kpis", 401, 200, 200, 200, 200, 200),
    # The roster as admins edit it (dashboard/roster_admin_api.py): reads for operators and up, writes for
    # admins only, whatever their scope.
    ("GET", "/api/roster/people"): row("/api/roster/people", 401, 200, 200, 200, 200, 200),
    ("PUT", "/api/roster/people/{person_id}"): row(
        "/api/roster/people/P-new", 401, 403, 403, 200, 403, 403, body={"name": "新人", "role": "grid_worker"}
    ),
    ("POST", "/api/roster/people/{person_id}/deactivate"): row(
        "/api/roster/people/P-none/deactivate", 401, 403, 403, 404, 403, 403
    ),
    ("GET", "/api/roster/units"): row("/api/roster/units", 401, 200, 200, 200, 200, 200),
    ("PUT", "/api/roster/units/{unit_id}"): row(
        "/api/roster/units/U-new", 401, 403, 403, 200, 403, 403, body={"name": "社区", "kind": "community"}
    ),
    ("POST", "/api/roster/units/{unit_id}/deactivate"): row(
        "/api/roster/units/U-none/deactivate", 401, 403, 403, 404, 403, 403
    ),
    ("GET", "/api/roster/audit"): row("/api/roster/audit", 401, 200, 200, 200, 200, 200),
}
ANONYMOUS = {
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("POST", "/auth/login"),
    ("MOUNT", "/static"),
    ("MOUNT", "/docs-static"),
    ("GET", "/"),
    ("GET", "/ui"),
    ("GET", "/ui/"),
    ("GET", "/field"),
    ("GET", "/api/signed-clips/{clip_id}"),  # the signature is the credential (dashboard/clip_api.py)
    ("GET", "/api/labels.js"),  # words the pages import, no data (dashboard/labels.py)
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, included routers flattened; mounts as ("MOUNT", prefix)."""
    found: set[tuple[str, str]] = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Mount):
            found.add(("MOUNT", route.path))
            continue
        for method in ctx.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                found.add((method, ctx.path_format or ctx.path or ""))
    return found


def build(db: Path, template: Path | None = None) -> tuple[FakeRuntime, int, int]:
    rt = FakeRuntime(db, template)
    rt.services.tokens = TokenBook.build([*TOKENS.values(), *EXTRA_TOKENS.values()])
    incident = rt.press("B-001")  # grid G-001, street S-1
    return rt, incident, _dead_delivery(rt, incident)


async def status_of(app: FastAPI, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    """Send one request through the ASGI app and return the status as soon as the response starts."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await started  # then the client "goes away" once it has its answer
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *((k.encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        return await asyncio.wait_for(asyncio.shield(started), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def request_for(key: tuple[str, str], incident: int, delivery: int) -> tuple[str, str, bytes]:
    entry = TABLE[key]
    path = entry["path"].replace(INCIDENT, str(incident)).replace(DELIVERY, str(delivery))
    method = "GET" if key[0] == "MOUNT" else key[0]
    body = json.dumps(entry["body"]).encode() if entry["body"] is not None else b""
    return method, path, body


def headers_for(caller: str, body: bytes) -> dict[str, str]:
    headers = {"content-type": "application/json", "content-length": str(len(body))} if body else {}
    if caller != "anonymous":
        token = {**TOKENS, **EXTRA_TOKENS}[caller][0]
        headers["authorization"] = f"Bearer {token}"
    return headers


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database, copied for each app."""
    path = tmp_path_factory.mktemp("roles") / "template.db"
    rt = FakeRuntime(path)
    UserStore(rt.store).add("alice", PASSWORD, "operator")
    rt.store.close()
    return path


def ask(db: Path, template: Path, key: tuple[str, str], callers: tuple[str, ...]) -> dict[str, int]:
    """Serve a fresh app on a copy of the template and ask as each caller in turn."""
    rt, incident, delivery = build(db, template)
    app = create_app(rt)
    method, path, body = request_for(key, incident, delivery)
    try:
        with TestClient(app) as client:  # runs the lifespan: state, sign-in, delivery worker
            portal = client.portal
            assert portal is not None
            return {c: portal.call(status_of, app, method, path, headers_for(c, body), body) for c in callers}
    finally:
        rt.store.close()


def test_every_route_has_a_row(tmp_path: Path, template: Path) -> None:
    rt, _, _ = build(tmp_path / "routes.db", template)
    routes = app_routes(create_app(rt))
    rt.store.close()
    missing = sorted(routes - TABLE.keys())
    assert not missing, f"routes without an entry in TABLE (decide who may call them): {missing}"
    stale = sorted(TABLE.keys() - routes)
    assert not stale, f"TABLE rows for routes that no longer exist: {stale}"


def test_only_the_allowlist_answers_anonymously() -> None:
    open_routes = {key for key, entry in TABLE.items() if entry["expect"]["anonymous"] != 401}
    assert open_routes == ANONYMOUS


@pytest.mark.parametrize("key", sorted(TABLE), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_by_caller(tmp_path: Path, template: Path, key: tuple[str, str]) -> None:
    if key[0] in ("GET", "MOUNT"):
        got = ask(tmp_path / "all.db", template, key, CALLERS)
    else:  # a write changes state: each caller gets a fresh incident, so one success is no other's 409
        got = {c: ask(tmp_path / f"{c}.db", template, key, (c,))[c] for c in CALLERS}
    assert got == TABLE[key]["expect"]


# ----- what the table found: scope leaks that a status code alone would not show ---------------------------
def test_scoped_callers_see_only_their_devices(tmp_path: Path, template: Path) -> None:
    rt, _, _ = build(tmp_path / "devices.db", template)
    with TestClient(create_app(rt)) as client:
        for caller, expected in (("admin", ["B-001", "B-003"]), ("oos_operator", ["B-003"])):
            token = {**TOKENS, **EXTRA_TOKENS}[caller][0]
            body = client.get("/api/devices", headers={"authorization": f"Bearer {token}"}).json()
            assert [d["id"] for d in body["items"]] == expected, caller
    rt.store.close()


def test_out_of_scope_supervisor_cannot_retry_a_delivery(tmp_path: Path, template: Path) -> None:
    rt, _, delivery = build(tmp_path / "retry.db", template)
    with TestClient(create_app(rt)) as client:
        r = client.post(
            f"/api/deliveries/{delivery}/retry",
            headers={"authorization": f"Bearer {EXTRA_TOKENS['oos_supervisor'][0]}"},
        )
        assert r.status_code == 404
        listed = client.get("/api/deliveries", params={"status": "dead"}, headers=headers_for("admin", b""))
        assert [d["id"] for d in listed.json()["items"]] == [delivery]  # still dead: nothing was requeued
    rt.store.close()
