"""The engine role's side of shard clips, on a real PostgreSQL and a real JetStream.

A shard cannot know the incident its observation opens; its clip message names the observation (category and
trigger time) and the engine finds the incident open on that camera then. What is checked: a clip that
arrives before its observation waits (nak) instead of being lost; once resolved it is recorded once, however
often it is delivered; the clip's record on the shared storage then names the incident, so retention keeps
it while the incident is open; a clip whose observation never opened anything (a silence) is given up after
the wait and counted; a message published twice through JetStream is recorded once.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nats
import pytest
from prometheus_client import CollectorRegistry

from alarms.engine import IncidentEngine
from jetstream.clip_consumer import ClipConsumer, retention_pass
from jetstream.clips import STREAM, ClipPublisher, ClipReady, ClipRef
from sharpeyes.distributed.engine_role import build_engine
from sharpeyes.settings import Settings
from tests.distributed.test_observation_bus import fire
from tests.support.nats_server import NatsServer
from video.clip_config import ClipRetention
from video.clip_store import ClipMeta, ClipStore, clip_id

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]
CAM = "CAM-7"


def _engine(pg_url: str, tmp_path: Path) -> IncidentEngine:
    doc = {
        "storage": {"url": pg_url, "snapshots_dir": str(tmp_path / "snapshots")},
        "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
    }
    store, engine = build_engine(Settings.model_validate(doc), CollectorRegistry())
    store.migrate()
    return engine


def _shard_wrote(clips: ClipStore, start: float, trigger: float) -> dict[str, Any]:
    """A clip as a shard leaves it: the MP4 and a record that names no incident yet."""
    meta = ClipMeta(clip_id(CAM, start), CAM, start, start + 18, [trigger], {}, 1000, "ab" * 32, 640, 360)
    path = clips.path_for(meta.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 1000)
    clips.save_meta(meta)
    return meta.evidence()


def _clip_entries(engine: IncidentEngine, incident_id: int) -> list[dict[str, Any]]:
    return list(engine.get(incident_id).evidence.get("clips") or [])


def test_refs_resolve_to_the_open_incident_once_and_named_for_retention(pg_url: str, tmp_path: Path) -> None:
    engine = _engine(pg_url, tmp_path)
    clips = ClipStore(tmp_path / "clips")
    episode = time.time() - 60
    observation = fire(CAM, episode=episode)
    assert observation.trigger is not None
    at = observation.trigger.ts
    entry = _shard_wrote(clips, at - 10, at)
    msg = ClipReady(CAM, [entry], {}, [ClipRef("fire", at)], time.time())
    consumer = ClipConsumer(None, engine, clips, match_wait_s=60)

    assert consumer.apply(msg) is False, "its observation is not applied yet: wait, do not drop"
    change = engine.observe_condition(observation.trigger)
    assert change is not None
    iid = change.incident.id
    assert consumer.apply(msg) is True
    assert _clip_entries(engine, iid) == [entry]
    version = engine.get(iid).version
    assert consumer.apply(msg) is True  # redelivered (a process killed before its ack)
    assert engine.get(iid).version == version and _clip_entries(engine, iid) == [entry]
    meta = clips.meta(entry["id"])
    assert meta is not None and meta.incidents == {str(iid): "fire"}

    # Retention (engine role): over the budget, the open incident's clip stays; once closed, it goes.
    budget = ClipRetention(max_bytes=1)
    assert retention_pass(engine, clips, budget, time.time()) == 0 and clips.meta(entry["id"]) is not None
    engine.act(iid, "cancel", "wang", note="test")
    assert retention_pass(engine, clips, budget, time.time()) == 1 and clips.meta(entry["id"]) is None

    # An observation a silence suppressed opened nothing: after the wait the clip is given up, counted.
    stray = _shard_wrote(clips, at + 100, at + 110)
    late = ClipReady(CAM, [stray], {}, [ClipRef("smoke", at + 110)], time.time() - 120)
    assert consumer.apply(late) is True and consumer.unmatched == 1


class AckSignalling(ClipConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_ack = asyncio.Event()

    def acked(self, item: ClipReady) -> None:
        self.first_ack.set()


def test_a_clip_published_twice_through_jetstream_is_recorded_once(
    pg_url: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    engine = _engine(pg_url, tmp_path)
    clips = ClipStore(tmp_path / "clips")
    sos = engine.observe_condition(fire(CAM, episode=time.time() - 30).trigger)  # type: ignore[arg-type]
    assert sos is not None
    iid = sos.incident.id
    entry = _shard_wrote(clips, time.time() - 40, time.time() - 10)
    msg = ClipReady(CAM, [entry], {str(iid): "fire"}, [], time.time())

    async def scenario() -> ClipConsumer:
        nc = await nats.connect(nats_server.url)
        try:
            publisher = ClipPublisher("test-shard")
            assert await publisher.send(nc, msg) and await publisher.send(nc, msg)
            js = nc.jetstream()
            assert (await js.stream_info(STREAM)).state.messages == 1  # Nats-Msg-Id: the repeat is dropped
            consumer = AckSignalling(js, engine, clips, ack_wait_s=5)
            stop = asyncio.Event()
            task = asyncio.create_task(consumer.run(stop))
            try:
                await asyncio.wait_for(consumer.first_ack.wait(), 20)
                await asyncio.sleep(1.0)  # a second message, had there been one, would be acked by now
            finally:
                stop.set()
                await task
            return consumer
        finally:
            await nc.close()

    # Its own thread: a session's Playwright (sync API) may hold this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        consumer = pool.submit(asyncio.run, scenario()).result()
    assert consumer.recorded == 1
    assert _clip_entries(engine, iid) == [entry]
