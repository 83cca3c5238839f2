"""A shard's publisher across a real JetStream outage: nothing lost, nothing doubled, order kept.

The nats-server (JetStream, file store) is stopped for 10 s while observations keep coming, then started
again on the same port and store; the spool must replay everything in order, exactly once in the stream.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import nats
import pytest
from prometheus_client import CollectorRegistry

from alarms.engine import Trigger
from alarms.grids import Placement
from jetstream.bus_engine import BusEngine
from jetstream.config import DistributedConfig
from jetstream.observations import BusMessage
from jetstream.spool import ObservationSpool, SpoolMetrics
from tests.support.nats_server import NatsServer

pytestmark = [pytest.mark.timeout(120)]
STREAM = "SHARPEYES_OBS"
STARTED = time.time()  # observations of this run: recent, so a spool file of them is replayed


def trigger(i: int) -> Trigger:
    camera = f"CAM-{i % 3}"
    return Trigger(
        category="fire",
        source_kind="camera",
        source_id=camera,
        placement=Placement("G-001", "C-1", "S-1", (camera,)),
        ts=STARTED + i,
        note=f"fire {i}",
        event_id=f"test:spool:{i}",
    )


def stream_ids(url: str) -> list[str]:
    """Every message's Nats-Msg-Id, in stream order."""

    async def read() -> list[str]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            total = (await js.stream_info(STREAM)).state.messages
            sub = await js.pull_subscribe("sharpeyes.obs.>", durable=None, stream=STREAM)
            out: list[str] = []
            while len(out) < total:
                for m in await sub.fetch(min(256, total - len(out)), timeout=5):
                    out.append((m.headers or {}).get("Nats-Msg-Id", ""))
                    await m.ack()
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def wait_until(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def sample(reg: CollectorRegistry, outcome: str) -> float:
    return reg.get_sample_value("sharpeyes_observation_spool_total", {"outcome": outcome}) or 0.0


def test_outage_longer_than_retries_loses_nothing(nats_server: NatsServer, tmp_path: Path) -> None:
    cfg = DistributedConfig(nats_url=nats_server.url, publish_timeout_s=1.0)
    reg = CollectorRegistry()
    spool_file = tmp_path / "spool" / "shard-0.jsonl"
    bus = BusEngine(cfg, name="test-shard", spool_path=spool_file, registry=reg)
    sent: list[str] = []
    down_at = up_at = 0.0
    try:
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < 17.0:  # 20 observations/s; down from 3 s to 13 s
            elapsed = time.monotonic() - t0
            if not down_at and elapsed >= 3.0:
                nats_server.stop()
                down_at = time.monotonic()
            if down_at and not up_at and time.monotonic() - down_at >= 10.0:
                nats_server.start()
                up_at = time.monotonic()
            trig = trigger(i)
            assert bus.raise_condition(trig) is True  # stored or spooled, never refused
            sent.append(str(trig.event_id))
            i += 1
            time.sleep(0.05)
        assert wait_until(lambda: len(bus.spool) == 0, 30), f"spool not drained: {len(bus.spool)}"
        print(
            f"\noutage {up_at - down_at:.1f} s: {len(sent)} observations, {bus.spooled} spooled, "
            f"{bus.replayed} replayed, {bus.dropped} dropped"
        )
        assert bus.spooled >= 100  # 10 s at 20/s went through the spool
        assert bus.replayed == bus.spooled and bus.dropped == 0
        assert sample(reg, "spooled") == bus.spooled and sample(reg, "replayed") == bus.replayed
        assert sample(reg, "dropped") == 0
        assert spool_file.read_bytes() == b""  # the outage is over: nothing left to replay
    finally:
        bus.close()
    ids = stream_ids(nats_server.url)
    assert ids == sent  # every observation once, in the order the shard made them


def test_spool_file_is_replayed_by_the_next_run_and_bounded(nats_server: NatsServer, tmp_path: Path) -> None:
    cfg = DistributedConfig(nats_url=nats_server.url, publish_timeout_s=1.0, spool_max_messages=5)
    spool_file = tmp_path / "shard-1.jsonl"
    reg = CollectorRegistry()
    bus = BusEngine(cfg, name="test-shard", spool_path=spool_file, registry=reg)
    for i in range(3):
        assert bus.raise_condition(trigger(i)) is True
    nats_server.stop()
    kept = [bus.raise_condition(trigger(i)) for i in range(3, 10)]
    assert kept == [True] * 5 + [False] * 2  # bounded: the two beyond 5 are lost, and counted
    assert bus.dropped == 2 and sample(reg, "dropped") == 2
    bus.close()  # the shard stops mid-outage: its spool stays on disk
    assert len(spool_file.read_bytes().splitlines()) == 5

    nats_server.start()
    again = BusEngine(cfg, name="test-shard", spool_path=spool_file, registry=CollectorRegistry())
    try:
        assert wait_until(lambda: len(again.spool) == 0, 30)
        assert again.replayed == 5
        assert again.raise_condition(trigger(10)) is True
    finally:
        again.close()
    assert stream_ids(nats_server.url) == [f"test:spool:{i}" for i in [*range(8), 10]]


def test_spool_file_survives_a_torn_line_and_stays_compact(tmp_path: Path) -> None:
    """A crash mid-append leaves a partial last line: the rest is replayed. Replayed lines are dropped from
    the file when the spool empties, or by a rewrite once the file holds twice the bound."""
    path = tmp_path / "s.jsonl"
    first = ObservationSpool(path, 3, SpoolMetrics(CollectorRegistry()))
    for i in range(2):
        assert first.append(BusMessage("raise", trigger=trigger(i)))
    with path.open("ab") as f:
        f.write(b'{"v":1,"op":"rai')  # torn
    second = ObservationSpool(path, 3, SpoolMetrics(CollectorRegistry()))
    assert [second.head().msg_id] == ["test:spool:0"] and len(second) == 2
    assert len(path.read_bytes().splitlines()) == 2 and path.read_bytes().endswith(b"\n")  # torn line gone
    for i in range(2, 10):  # replay one, keep one: the file would grow without a rewrite
        second.pop()
        assert second.append(BusMessage("raise", trigger=trigger(i)))
    assert len(second) == 2 and len(path.read_bytes().splitlines()) <= 2 * 3
    assert [BusMessage.decode(line).msg_id for line in path.read_bytes().splitlines()][-2:] == [
        "test:spool:8",
        "test:spool:9",
    ]
    second.pop()
    second.pop()
    assert path.read_bytes() == b""


def test_a_day_old_spool_file_is_not_replayed(tmp_path: Path) -> None:
    """Beyond the engine's dedup window a replay could reopen an incident long closed: dropped, counted."""
    path = tmp_path / "s.jsonl"
    old = replace(trigger(1), ts=time.time() - 2 * 86400, event_id="test:spool:old")
    fresh = replace(trigger(2), ts=time.time() - 60)
    path.write_bytes(b"".join(BusMessage("raise", trigger=t).encode() + b"\n" for t in (old, fresh)))
    reg = CollectorRegistry()
    spool = ObservationSpool(path, 10, SpoolMetrics(reg))
    assert [spool.head().msg_id] == ["test:spool:2"] and len(spool) == 1
    assert sample(reg, "expired") == 1
    assert len(path.read_bytes().splitlines()) == 1
