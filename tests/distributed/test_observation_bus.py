"""Observations through a real JetStream into a real PostgreSQL: dedup by event id, ack after commit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest
import yaml

from alarms.config import GridConfig, StorageConfig
from alarms.engine import Trigger
from alarms.grids import Placement
from alarms.rules import event_id
from jetstream.config import DistributedConfig
from jetstream.observations import BusMessage, ObservationPublisher, ensure_stream
from sharpeyes.distributed.engine_role import run_engine
from sharpeyes.settings import Settings
from tests.distributed.conftest import incident_rows
from tests.support.nats_server import NatsServer

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]
STREAM = "SHARPEYES_OBS"


def fire(camera: str, level: str = "suspected", episode: float = 1_700_000_000.0) -> BusMessage:
    placement = Placement("G-001", "C-1", "S-1", (camera,))
    trigger = Trigger(
        category="fire",
        source_kind="camera",
        source_id=camera,
        placement=placement,
        ts=episode + 1,
        note=f"fire {level}",
        evidence={"camera_id": camera, "level": level},
        certainty="Observed" if level == "confirmed" else "Likely",
        event_id=event_id(camera, "fire", "fire", level, episode),
    )
    return BusMessage("observe", trigger=trigger)


def settings_doc(pg_url: str, nats_url: str) -> dict:
    return {
        "storage": {"url": pg_url},
        "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
        "distributed": {"nats_url": nats_url, "ack_wait_s": 2.0},
    }


async def drained(js: object, within: float = 30.0) -> None:
    """Until the engine consumer has acked everything in the stream."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        info = await js.consumer_info(STREAM, "engine")  # type: ignore[attr-defined]
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"consumer not drained: {info}")


def test_message_round_trip() -> None:
    msg = fire("CAM.7 x")
    back = BusMessage.decode(msg.encode())
    assert back == msg
    assert msg.subject() == "sharpeyes.obs.G-001.CAM_7_x"
    assert msg.msg_id == "cam:CAM.7 x:fire:fire:suspected:1700000000000"
    clear = BusMessage("clear", category="video_loss", source_id="CAM-1", note="back", ts=5.0)
    assert BusMessage.decode(clear.encode()) == clear
    with pytest.raises(ValueError):
        BusMessage.decode(b'{"v": 1, "op": "delete"}')


async def test_same_observation_from_old_and_new_owner_is_one_incident(
    nats_server: NatsServer, pg_url: str
) -> None:
    settings = Settings(
        storage=StorageConfig(url=pg_url),
        grids=[GridConfig(id="G-001", name="one", community="C-1", street="S-1")],
        distributed=DistributedConfig(nats_url=nats_server.url),
    )
    stop = asyncio.Event()
    engine = asyncio.create_task(run_engine(settings, stop, tick_s=60, migrate=False))
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, STREAM)
        old_owner, new_owner = ObservationPublisher(js, STREAM), ObservationPublisher(js, STREAM)
        msg = fire("CAM-1")
        assert await old_owner.publish(msg) is True
        assert await new_owner.publish(msg) is False  # same Nats-Msg-Id in the window: dropped
        # Past the duplicate window JetStream stores a repeat again; the engine's seen_events drops it.
        await js.publish(msg.subject(), msg.encode(), stream=STREAM, headers={"Nats-Msg-Id": "late-repeat"})
        while True:  # the consumer was created by the engine task
            try:
                await drained(js)
                break
            except Exception:
                await asyncio.sleep(0.2)
        assert (await js.stream_info(STREAM)).state.messages == 2
        assert incident_rows(pg_url) == [("fire", "CAM-1", 1)]
        # The new owner's confirmation of the same fire (its own event id) updates the same incident.
        assert await new_owner.publish(fire("CAM-1", "confirmed")) is True
        await drained(js)
        assert incident_rows(pg_url) == [("fire", "CAM-1", 2)]
    finally:
        stop.set()
        consumer = await asyncio.wait_for(engine, 10)
        await nc.close()
    assert consumer.applied == 3 and consumer.failed == 0


def _engine_process(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "run", "--role", "engine", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _count(pg_url: str) -> int:
    return len(incident_rows(pg_url))


async def test_engine_killed_mid_stream_loses_nothing(
    nats_server: NatsServer, pg_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text(yaml.safe_dump(settings_doc(pg_url, nats_server.url)))
    log = tmp_path / "engine.log"
    nc = await nats.connect(nats_server.url)
    n = 600
    try:
        js = nc.jetstream()
        await ensure_stream(js, STREAM)
        pub = ObservationPublisher(js, STREAM)
        for i in range(n // 2):
            await pub.publish(fire(f"CAM-{i:04d}"))
        first = _engine_process(config, log)
        try:
            deadline = time.monotonic() + 60
            while _count(pg_url) < 40:
                assert first.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                await asyncio.sleep(0.02)
        finally:
            os.kill(first.pid, signal.SIGKILL)  # mid-stream: some committed and not acked, some not applied
            first.wait(10)
        at_kill = _count(pg_url)
        assert at_kill < n // 2, "the engine finished before it was killed; raise n"
        for i in range(n // 2, n):  # the shards go on publishing while no engine runs
            await pub.publish(fire(f"CAM-{i:04d}"))
        second = _engine_process(config, log)
        try:
            deadline = time.monotonic() + 60
            while _count(pg_url) < n and time.monotonic() < deadline:  # noqa: ASYNC110 (polls PostgreSQL)
                await asyncio.sleep(0.1)
            await drained(js, within=30)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                code = second.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(second.pid, signal.SIGKILL)
                second.wait(5)
                raise
        assert code == 0, log.read_text()[-2000:]
    finally:
        await nc.close()
    rows = incident_rows(pg_url)
    assert len(rows) == n, f"killed at {at_kill}; {log.read_text()[-2000:]}"
    assert {r[1] for r in rows} == {f"CAM-{i:04d}" for i in range(n)}
    assert all(r[2] == 1 for r in rows)  # a redelivered, already committed observation changed nothing
