"""Two API processes, one engine process, one PostgreSQL, one nats-server: every page sees every change.

Real processes (`sharpeyes run --role api|engine`), real brokers: an incident the engine role opens from a
JetStream observation is listed by both APIs and pushed on both live streams; an operator action taken through
one API is pushed on the other API's stream, and exactly once on its own (it does not hear its own echo).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from jetstream.observations import ObservationPublisher, ensure_stream
from tests.distributed.test_observation_bus import STREAM, fire
from tests.support.mosquitto import Mosquitto
from tests.support.nats_server import NatsServer
from tests.support.service import TOKEN, Service, write_config

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


class LiveStream:
    """Reads /api/events in a thread and keeps every `incident` event, as the page's EventSource would."""

    def __init__(self, svc: Service) -> None:
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._thread = threading.Thread(target=self._read, args=(svc,), daemon=True)
        self._thread.start()

    def _read(self, svc: Service) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            with self._client.stream("GET", f"{svc.base}/api/events", headers=headers) as r:
                for line in r.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("data: "):
                        self.events.append(json.loads(line[len("data: ") :]))
        except httpx.HTTPError:
            pass  # closed by the test

    def matching(self, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if pred(e["incident"])]

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], within: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.matching(pred)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no such live event within {within} s; got {self.events}")

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mqtt").start()
    try:
        yield broker
    finally:
        broker.stop()


def _api(tmp_path: Path, name: str, pg_url: str, nats_url: str, mqtt_port: int) -> Service:
    config = tmp_path / f"{name}.yaml"
    cfg = write_config(
        config,
        mqtt_port=mqtt_port,
        webhook_url="http://127.0.0.1:9/unused",
        db=tmp_path / "unused.db",
        extra={
            "storage": {"url": pg_url},
            "webhooks": [],
            "distributed": {"nats_url": nats_url, "ack_wait_s": 2.0},
        },
    )
    return Service(config, cfg, tmp_path / f"{name}.log", args=("--role", "api"))


def _engine(api: Service, log: Path) -> subprocess.Popen[bytes]:
    """`--role engine` on the API's config file (the same secrets in its environment)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "run", "--role", "engine", "-c", str(api.config)],
        env=api.env(),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise


async def _publish_observation(nats_url: str, camera: str) -> bool:
    """As a shard publishes it: stored in JetStream, applied by an engine process."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, STREAM)
        return await ObservationPublisher(js, STREAM).publish(fire(camera))
    finally:
        await nc.close()


def _keys(stream: LiveStream) -> list[tuple[str, int, int]]:
    return [(e["action"], e["incident"]["id"], e["incident"]["version"]) for e in stream.events]


def test_two_api_processes_show_and_push_the_same_incidents(
    nats_server: NatsServer, pg_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    api_a = _api(tmp_path, "api-a", pg_url, nats_server.url, mosquitto.port)
    api_b = _api(tmp_path, "api-b", pg_url, nats_server.url, mosquitto.port)
    engine_log = tmp_path / "engine.log"
    engine = _engine(api_a, engine_log)
    streams: list[LiveStream] = []
    try:
        api_a.start(timeout=60)  # ready includes "live": subscribed to the relay subject
        api_b.start(timeout=60)
        streams = [LiveStream(api_a), LiveStream(api_b)]
        assert all(s.connected.wait(10) for s in streams)
        assert engine.poll() is None, engine_log.read_text()[-2000:]

        # A camera observation: applied by the engine process, in neither API.
        assert asyncio.run(_publish_observation(nats_server.url, "CAM-7")) is True

        def is_fire(inc: dict[str, Any]) -> bool:
            return inc.get("source_id") == "CAM-7"

        created = [s.wait_for(is_fire) for s in streams]
        assert engine.poll() is None, engine_log.read_text()[-2000:]
        incident_id = created[0]["incident"]["id"]
        assert created[1]["incident"]["id"] == incident_id
        assert all(e["type"] == "incident" and e["incident"]["category"] == "fire" for e in created)
        assert all(isinstance(e["committed_at"], float) for e in created)
        for api in (api_a, api_b):
            listed = api.get("/api/incidents").json()["items"]
            assert [i["id"] for i in listed] == [incident_id]

        # An operator acknowledges through API A: API B's page hears it, API A's exactly once.
        r = api_a.post(f"/api/incidents/{incident_id}/acknowledge", {"note": "seen on camera"})
        assert r.status_code == 200, r.text
        version = r.json()["version"]

        def is_ack(inc: dict[str, Any]) -> bool:
            return inc.get("id") == incident_id and inc.get("version") == version

        for s in streams:
            assert s.wait_for(is_ack)["incident"]["state"] == r.json()["state"]
        time.sleep(1.0)  # an echo of A's own change through NATS would have arrived by now
        seen = [_keys(s) for s in streams]
        assert seen[0] == seen[1], seen  # both pages saw the same changes, in the same order
        assert len(set(seen[0])) == len(seen[0]), seen  # and none twice (no echo of A's own change)
        assert api_b.get(f"/api/incidents/{incident_id}").json()["version"] == version
    finally:
        for s in streams:
            s.close()
        codes = [api.stop() for api in (api_a, api_b)]
        engine_code = _stop(engine)
    assert codes == [0, 0], (api_a.log.read_text()[-2000:], api_b.log.read_text()[-2000:])
    assert engine_code == 0, engine_log.read_text()[-2000:]


def test_live_subject_may_not_overlap_the_observation_stream() -> None:
    from pydantic import ValidationError

    from jetstream.config import DistributedConfig

    assert DistributedConfig().live_subject == "sharpeyes.live.incidents"
    for bad in ("sharpeyes.obs", "sharpeyes.obs.live", "live.>", "a..b"):
        with pytest.raises(ValidationError):
            DistributedConfig(live_subject=bad)
    assert DistributedConfig(live_subject="district-7.live").live_subject == "district-7.live"
