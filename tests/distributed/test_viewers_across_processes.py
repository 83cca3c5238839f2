"""Two operators on two API replicas (`--role api`) see each other on the same incident, as on one process:
each page's heartbeat is shared over the live relay (real nats-server, PostgreSQL, mosquitto, processes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.distributed.test_live_across_processes import LiveStream, _api
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.nats_server import NatsServer
from tests.support.service import TOKEN, Service

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

OTHER = "op2-token"


def _viewing(api: Service, incident_id: int, token: str, open_: bool = True) -> list[str]:
    r = httpx.post(
        f"{api.base}/api/incidents/{incident_id}/viewers",
        headers={"Authorization": f"Bearer {token}"},
        json={"open": open_},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return [v["name"] for v in r.json()["viewers"]]


def _viewers_events(stream: LiveStream, incident_id: int) -> list[list[str]]:
    return [
        [v["name"] for v in e["viewers"]]
        for e in list(stream.events)
        if e.get("type") == "viewers" and e.get("incident_id") == incident_id
    ]


def _until(pred: Any, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {within} s")


def test_operators_on_two_api_processes_see_each_other(
    nats_server: NatsServer,
    pg_url: str,
    mosquitto: Mosquitto,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_OP2_TOKEN", OTHER)
    tokens = {
        "api_tokens": [
            {"name": "admin", "token_env": "TEST_ADMIN_TOKEN", "role": "admin"},
            {"name": "op2", "token_env": "TEST_OP2_TOKEN", "role": "operator"},
        ]
    }
    apis = [_api(tmp_path, name, pg_url, nats_server.url, mosquitto.port) for name in ("api-a", "api-b")]
    for api in apis:
        api.cfg["auth"] = tokens
        api.config.write_text(yaml.safe_dump(api.cfg, allow_unicode=True))
    api_a, api_b = apis
    streams: list[LiveStream] = []
    try:
        api_a.start(timeout=60)
        api_b.start(timeout=60)
        streams = [LiveStream(api_a), LiveStream(api_b)]
        assert all(s.connected.wait(10) for s in streams)
        sim = ButtonSim(mosquitto.port, client_id="viewers-press")
        sim.send("B-001", seq=1)
        sim.close()
        inc = _until(
            lambda: [i for i in api_a.get("/api/incidents").json()["items"] if i["source_id"] == "B-001"]
        )
        incident_id = inc[0]["id"]

        # admin opens it on A: B's page hears it, and op2 opening it on B sees admin there already.
        assert _viewing(api_a, incident_id, TOKEN) == ["admin"]
        _until(lambda: ["admin"] in _viewers_events(streams[1], incident_id))
        assert _viewing(api_b, incident_id, OTHER) == ["admin", "op2"]
        _until(lambda: ["admin", "op2"] in _viewers_events(streams[0], incident_id))
        assert _viewing(api_a, incident_id, TOKEN) == ["admin", "op2"]  # A's own list has B's operator too

        # admin closes it on A: B's operator sees them leave.
        assert _viewing(api_a, incident_id, TOKEN, open_=False) == ["op2"]
        _until(lambda: _viewers_events(streams[1], incident_id)[-1:] == [["op2"]])
    finally:
        for s in streams:
            s.close()
        codes = [api.stop() for api in apis]
    assert codes == [0, 0], (api_a.log.read_text()[-2000:], api_b.log.read_text()[-2000:])
