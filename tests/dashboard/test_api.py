"""The HTTP API through `dashboard.app.create_app` with real Services on SQLite (no MQTT): authentication,
roles, the state machine's 409/422, street scope, health and metrics. TestClient is entered as a context
manager, so the lifespan starts and stops the runtime."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import update

from alarms.config import GridConfig, RetryConfig, SlaConfig, WebhookConfig
from alarms.delivery.outbox import Routing
from alarms.delivery.worker import DeliveryWorker, Endpoint
from alarms.devices import ensure_devices
from alarms.engine import IncidentEngine
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.queries import Scope
from alarms.storage.schema import outbox
from alarms.storage.store import Store
from dashboard.app import create_app
from dashboard.auth import Principal, TokenBook
from dashboard.incident_push import PushHub
from dashboard.services import Services
from ingest.types import PanicSignal, SignalKind

T0 = 1_700_000_000.0
TOKENS = {
    "operator": ("tok-operator", Principal("op", "operator")),
    "supervisor": ("tok-supervisor", Principal("sup", "supervisor")),
    "admin": ("tok-admin", Principal("adm", "admin")),
    "street2": ("tok-street2", Principal("s2", "operator", Scope(streets=frozenset({"S-2"})))),
    "grid1": ("tok-grid1", Principal("g1", "supervisor", Scope(grids=frozenset({"G-001"})))),
}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who][0]}"}


class Clock:
    def __init__(self) -> None:
        self.now = T0


class FakeRuntime:
    """What `sharpeyes.runtime.LocalRuntime` hands the app, minus MQTT and the tick loop."""

    def __init__(self, db: Path, template: Path | None = None) -> None:
        self.clock = Clock()
        self.mqtt_ready = True
        self.started = self.stopped = False
        if template is not None:
            shutil.copyfile(template, db)
        self.store = Store(f"sqlite:///{db}")
        if template is None:
            self.store.migrate()
        self.directory = GridDirectory.build(
            [
                GridConfig(id="G-001", community="C-1", street="S-1"),
                GridConfig(id="G-003", community="C-2", street="S-2"),
            ]
        )
        self.directory.place("B-001", "G-001")
        self.directory.place("B-003", "G-003")
        self.registry = CollectorRegistry()
        metrics = AlarmMetrics(self.registry)
        police = WebhookConfig(
            name="police",
            url="http://127.0.0.1:9/hook",  # nothing listens: deliveries fail and go dead
            secret_env="X",
            timeout_s=1,
            retry=RetryConfig(max_attempts=1),
        )
        self.engine = IncidentEngine(
            self.store,
            self.directory,
            SlaConfig(),
            Routing([police], "t"),
            metrics,
            clock=lambda: self.clock.now,
        )
        self.delivery = DeliveryWorker(
            self.store, {"police": Endpoint.build(police, "s")}, metrics, sweep_s=60
        )
        self.services = Services(
            store=self.store,
            engine=self.engine,
            delivery=self.delivery,
            hub=PushHub(),
            tokens=TokenBook.build(list(TOKENS.values())),
            registry=self.registry,
            readiness=lambda: {"mqtt": self.mqtt_ready},
            clock=lambda: self.clock.now,
        )

    async def start(self) -> None:
        import asyncio

        self.services.hub.bind(asyncio.get_running_loop())
        with self.store.write() as conn:
            ensure_devices(conn, dict(self.directory.devices))
        await self.delivery.start()
        self.started = True

    async def stop(self) -> None:
        await self.delivery.stop()
        self.stopped = True

    def press(self, button: str, seq: int = 1) -> int:
        sig = PanicSignal(button, SignalKind.PRESS, self.clock.now, self.clock.now, seq)
        changes = self.engine.ingest_signal(sig)
        assert changes
        return changes[0].incident.id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database, copied for each test."""
    path = tmp_path_factory.mktemp("api") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture
def runtime(tmp_path: Path, template: Path) -> Iterator[FakeRuntime]:
    rt = FakeRuntime(tmp_path / "api.db", template)
    yield rt
    rt.store.close()


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """For checks that never reach the database: one app for the module."""
    rt = FakeRuntime(tmp_path_factory.mktemp("shared") / "api.db")
    rt.press("B-001")
    with TestClient(create_app(rt)) as c:
        yield c
    rt.store.close()


@pytest.fixture
def client(runtime: FakeRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        assert runtime.started
        yield c
    assert runtime.stopped


@pytest.fixture
def s1(runtime: FakeRuntime) -> int:
    return runtime.press("B-001")


@pytest.fixture
def s2(runtime: FakeRuntime) -> int:
    return runtime.press("B-003")


# ----- authentication -----------------------------------------------------------------------------------
def test_healthz_is_open(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


PROTECTED = [
    ("GET", "/api/incidents"),
    ("GET", "/api/incidents/1"),
    ("POST", "/api/incidents/1/acknowledge"),
    ("GET", "/api/devices"),
    ("GET", "/api/deliveries"),
    ("POST", "/api/deliveries/1/retry"),
    ("GET", "/api/kpis"),
    ("GET", "/api/events"),
    ("GET", "/metrics"),
    ("GET", "/readyz"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {TOKENS['admin'][0]}"},
        {"Authorization": TOKENS["admin"][0]},
        {"X-Api-Token": TOKENS["admin"][0]},
    ],
)
def test_401_without_a_valid_token(shared_client: TestClient, method: str, path: str, headers: dict) -> None:  # type: ignore[type-arg]
    r = shared_client.request(method, path, headers=headers, json={} if method == "POST" else None)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"


def test_token_compare_is_exact(shared_client: TestClient) -> None:
    client = shared_client
    for token in (TOKENS["admin"][0] + "x", TOKENS["admin"][0][:-1], TOKENS["admin"][0].upper()):
        assert client.get("/api/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert (
        client.get("/api/incidents", headers={"Authorization": f"bearer {TOKENS['admin'][0]}"}).status_code
        == 200
    )


def test_metrics_and_readyz_with_token(client: TestClient, runtime: FakeRuntime, s1: int) -> None:
    r = client.get("/metrics", headers=auth("operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'sharpeyes_incident_changes_total{category="sos",change="created"} 1.0' in r.text
    r = client.get("/readyz", headers=auth("operator"))
    assert (r.status_code, r.json()) == (200, {"ready": True, "checks": {"database": True, "mqtt": True}})
    runtime.mqtt_ready = False
    r = client.get("/readyz", headers=auth("operator"))
    assert (r.status_code, r.json()["ready"], r.json()["checks"]["mqtt"]) == (503, False, False)


# ----- roles --------------------------------------------------------------------------------------------
def _dead_delivery(runtime: FakeRuntime, incident_id: int) -> int:
    with runtime.store.write() as conn:
        rows = conn.execute(outbox.select().where(outbox.c.incident_id == incident_id)).mappings().all()
        webhook_id = next(r["id"] for r in rows if r["channel"] == "webhook")
        conn.execute(
            update(outbox)
            .where(outbox.c.id == webhook_id)
            .values(status="dead", attempts=1, last_error="HTTP 500")
        )
    return webhook_id


@pytest.mark.parametrize(
    ("who", "status"), [("operator", 403), ("street2", 403), ("supervisor", 200), ("admin", 200)]
)
def test_retry_needs_supervisor(
    client: TestClient, runtime: FakeRuntime, s1: int, who: str, status: int
) -> None:
    delivery_id = _dead_delivery(runtime, s1)
    r = client.post(f"/api/deliveries/{delivery_id}/retry", headers=auth(who))
    assert r.status_code == status, r.text
    if status == 200:
        body = r.json()
        assert (body["id"], body["status"], body["attempts"], body["last_error"]) == (
            delivery_id,
            "pending",
            0,
            None,
        )
        assert body["webhook_id"].startswith("msg_") and "payload" not in body
    else:
        assert "supervisor" in r.json()["detail"]
        listed = client.get("/api/deliveries", params={"status": "dead"}, headers=auth("supervisor")).json()
        assert [d["id"] for d in listed["items"]] == [delivery_id]


def test_retry_unknown_delivery(client: TestClient) -> None:
    assert client.post("/api/deliveries/999999/retry", headers=auth("supervisor")).status_code == 404


# ----- actions ------------------------------------------------------------------------------------------
def test_action_flow_and_conflicts(client: TestClient, runtime: FakeRuntime, s1: int) -> None:
    url = f"/api/incidents/{s1}"
    runtime.clock.now = T0 + 12
    r = client.post(f"{url}/acknowledge", headers=auth("operator"), json={"actor": "alice"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["version"], body["acknowledged_at"]) == (
        "acknowledged",
        2,
        "2023-11-14T22:13:32.000Z",
    )
    assert body["allowed_actions"] == ["cancel", "dispatch", "merge"]
    r = client.post(f"{url}/acknowledge", headers=auth("operator"), json={})
    assert (
        r.status_code == 409 and "cannot acknowledge an incident that is acknowledged" in r.json()["detail"]
    )
    assert client.post(f"{url}/resolve", headers=auth("operator"), json={"note": "x"}).status_code == 409
    r = client.post(f"{url}/dispatch", headers=auth("operator"), json={"assignee": "unit-1"})
    assert r.status_code == 422 and "note" in r.json()["detail"]
    r = client.post(f"{url}/dispatch", headers=auth("operator"), json={"note": "go"})
    assert r.status_code == 422 and "assignee" in r.json()["detail"]
    r = client.post(f"{url}/dispatch", headers=auth("operator"), json={"note": "go", "assignee": "unit-1"})
    assert r.status_code == 200 and (r.json()["state"], r.json()["assignee"]) == ("dispatched", "unit-1")
    r = client.post(f"{url}/start", headers=auth("operator"), json={"expected_version": 2})
    assert r.status_code == 409  # someone else moved it on
    assert (
        client.post(f"{url}/start", headers=auth("operator"), json={"expected_version": 3}).status_code == 200
    )
    detail = client.get(url, headers=auth("operator")).json()
    assert detail["version"] == 4
    assert [(e["action"], e["actor"]) for e in detail["timeline"]] == [
        ("created", "B-001"),
        ("acknowledge", "op/alice"),
        ("dispatch", "op"),
        ("start", "op"),
    ]
    assert detail["timeline"][1]["ts"] == "2023-11-14T22:13:32.000Z"
    assert {d["channel"] for d in detail["deliveries"]} == {"webhook", "mqtt"}
    assert all(d["webhook_id"].startswith("msg_") for d in detail["deliveries"])


@pytest.mark.parametrize(
    ("action", "body", "status"),
    [
        ("acknowledge", {"note": "x" * 2001}, 422),  # note too long
        ("acknowledge", {"colour": "red"}, 422),  # unknown field
        ("cancel", {}, 422),  # note required
        ("cancel", {"note": "   "}, 422),
        ("cancel", {"note": "drill", "disposition": "nonsense"}, 422),
        ("cancel", {"note": "drill", "disposition": "test"}, 200),
        ("close", {}, 409),
        ("evaluate", {}, 409),
        ("explode", {}, 404),
        ("merge", {}, 422),
    ],
)
def test_action_table(client: TestClient, s1: int, action: str, body: dict, status: int) -> None:  # type: ignore[type-arg]
    r = client.post(f"/api/incidents/{s1}/{action}", headers=auth("operator"), json=body)
    assert r.status_code == status, r.text
    after = client.get(f"/api/incidents/{s1}", headers=auth("operator")).json()
    assert after["version"] == (2 if status == 200 else 1)


def test_unknown_incident(client: TestClient) -> None:
    assert client.get("/api/incidents/4242", headers=auth("admin")).status_code == 404
    assert client.post("/api/incidents/4242/acknowledge", headers=auth("admin"), json={}).status_code == 404


def test_oversize_body(client: TestClient, s1: int) -> None:
    r = client.post(
        f"/api/incidents/{s1}/acknowledge",
        headers={**auth("operator"), "content-type": "application/json"},
        content=b'{"note": "' + b"x" * 70_000 + b'"}',
    )
    assert r.status_code == 413


# ----- scope --------------------------------------------------------------------------------------------
def test_street_scope(client: TestClient, runtime: FakeRuntime, s1: int, s2: int) -> None:
    listed = client.get("/api/incidents", headers=auth("street2")).json()
    assert [i["id"] for i in listed["items"]] == [s2] and listed["count"] == 1
    assert sorted(i["id"] for i in client.get("/api/incidents", headers=auth("admin")).json()["items"]) == [
        s1,
        s2,
    ]
    assert client.get(f"/api/incidents/{s1}", headers=auth("street2")).status_code == 404
    assert client.get(f"/api/incidents/{s2}", headers=auth("street2")).json()["street_id"] == "S-2"
    r = client.post(f"/api/incidents/{s1}/acknowledge", headers=auth("street2"), json={})
    assert r.status_code == 404
    assert runtime.engine.get(s1).state == "reported"
    assert (
        client.post(f"/api/incidents/{s2}/acknowledge", headers=auth("street2"), json={}).status_code == 200
    )
    kpis = client.get("/api/kpis", headers=auth("street2")).json()
    assert kpis["overall"]["total"] == 1 and list(kpis["streets"]) == ["S-2"]
    deliveries = client.get("/api/deliveries", headers=auth("street2")).json()["items"]
    assert deliveries and {d["incident_id"] for d in deliveries} == {s2}
    # a grid-scoped token sees only its grid
    listed = client.get("/api/incidents", headers=auth("grid1")).json()
    assert [i["grid_id"] for i in listed["items"]] == ["G-001"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["B-001", "B-003"]),
        ({"street": "S-1"}, ["B-001"]),
        ({"grid": "G-003"}, ["B-003"]),
        ({"state": "acknowledged"}, ["B-003"]),
        ({"state": ["acknowledged", "reported"]}, ["B-001", "B-003"]),
        ({"category": "fire"}, []),
        ({"active": "true"}, ["B-001", "B-003"]),
        ({"active": "false"}, []),
        ({"since": T0 + 1}, ["B-003"]),
        ({"until": T0 + 1}, ["B-001"]),
        ({"limit": 1, "offset": 1}, ["B-001"]),
    ],
)
def test_list_filters(client: TestClient, runtime: FakeRuntime, params: dict, expected: list[str]) -> None:  # type: ignore[type-arg]
    runtime.press("B-001")
    runtime.clock.now = T0 + 5
    b3 = runtime.press("B-003")
    runtime.engine.act(b3, "acknowledge", "op")
    r = client.get("/api/incidents", headers=auth("admin"), params=params)
    assert r.status_code == 200, r.text
    assert sorted(i["source_id"] for i in r.json()["items"]) == sorted(expected)


def test_list_rejects_bad_limits(client: TestClient) -> None:
    bad = ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"offset": 2**63}, {"active": "maybe"})
    for params in bad:
        assert client.get("/api/incidents", headers=auth("admin"), params=params).status_code == 422
    # the largest offset the database can take is answered, with nothing on that page (schemathesis found 500)
    r = client.get("/api/incidents", headers=auth("admin"), params={"offset": 2**63 - 1})
    assert r.status_code == 200 and r.json()["items"] == []


def test_devices(client: TestClient) -> None:
    body = client.get("/api/devices", headers=auth("operator")).json()
    assert [(d["id"], d["known"], d["grid_id"]) for d in body["items"]] == [
        ("B-001", True, "G-001"),
        ("B-003", True, "G-003"),
    ]
    assert body["unknown"] == []


def test_openapi_lists_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json", headers=auth("operator")).json()["paths"]
    assert {
        "/api/incidents",
        "/api/incidents/{incident_id}/{action}",
        "/api/deliveries/{delivery_id}/retry",
    } <= set(paths)


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_api_docs_need_authentication(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth("operator")).status_code == 200


def test_docs_page_loads_nothing_from_outside(client: TestClient) -> None:
    page = client.get("/docs", headers=auth("operator")).text
    assert "cdn" not in page.lower() and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs-static/{asset}" in page
        assert client.get(f"/docs-static/{asset}").status_code == 200


def test_a_scoped_stream_gets_resync_notices_but_only_its_incidents(
    client: TestClient, runtime: FakeRuntime
) -> None:
    """`resync` (the process may have missed changes: reload) carries no incident and reaches every stream;
    incidents stay scoped. The S-2 operator sees the notice and S-2's incident, never S-1's."""
    import threading
    import time

    lines: list[str] = []
    done = threading.Event()

    def listen() -> None:
        with client.stream("GET", "/api/events", headers=auth("street2")) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                lines.append(line)
                if '"street_id": "S-2"' in line:
                    break
        done.set()

    threading.Thread(target=listen, daemon=True).start()
    deadline = time.monotonic() + 5
    while ": connected" not in lines and time.monotonic() < deadline:
        time.sleep(0.02)
    runtime.services.hub.publish_many_threadsafe(
        [
            {"type": "resync", "reason": "test"},
            {"type": "incident", "action": "created", "incident": {"street_id": "S-1", "grid_id": "G-001"}},
            {"type": "incident", "action": "created", "incident": {"street_id": "S-2", "grid_id": "G-003"}},
        ]
    )
    assert done.wait(5), lines
    assert "event: resync" in lines
    assert not any('"street_id": "S-1"' in line for line in lines)
