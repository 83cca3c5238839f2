"""Evidence clips of a shard's cameras: packet rings stay in the shard, clips go to the shared storage.

The shard runs the local runtime's ClipRecorder over its own cameras and writes each clip (``pre_s`` before
the trigger to ``post_s`` after) to the shared evidence storage (`clips.dir`, default `clips/` beside the
shared `storage.snapshots_dir`). Without a database, what asks for a clip differs from the local runtime:

- a camera incident: the shard's own observation, seen as it goes to JetStream (after the bus took it: the
  alarm never waits). The clip is keyed by a *ref* (category and trigger time) that the engine role resolves
  to the incident open on that camera then (`jetstream/clip_consumer.py`).
- an SOS whose button links one of this shard's cameras: the committed change on the live subject that every
  engine and API process publishes (`distributed.live_subject`), which carries the incident id. Best effort
  like live push: a press committed while this shard is disconnected from NATS gets no clip from it.

When a clip is finished the shard publishes one `ClipReady` on JetStream (`jetstream/clips.py`); the engine
role records it on the incidents. Retention runs in the engine role, which knows which incidents are open.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from alarms.triggers import ConditionSink, Trigger
from jetstream.bus_engine import BusEngine
from jetstream.clips import ClipPublisher, ClipReady, ClipRef, ref_key
from sharpeyes.evidence_wiring import clip_store
from sharpeyes.settings import Settings
from video.clip_recorder import ClipRecorder, ClipRequest
from video.clip_store import ClipStore
from video.evidence_store import EvidenceStorage, FolderStorage

log = logging.getLogger(__name__)

_TRIGGERS = ("created", "retrigger", "confirmed")


class ShardClipRecorder(ClipRecorder):
    """Reports finished clips to the engine role instead of writing incidents; runs no retention (the engine
    role does: only it knows which incidents are still open)."""

    def __init__(
        self, settings: Settings, store: ClipStore, bus: BusEngine, name: str, registry: CollectorRegistry
    ) -> None:
        super().__init__(settings.clips, store, registry)
        self.bus, self.name = bus, name
        cfg = settings.distributed
        self.publisher = ClipPublisher(name, cfg.stream_replicas, cfg.duplicate_window_s)
        self.sending: set[concurrent.futures.Future[bool]] = set()
        self._sending_lock = threading.Lock()  # the clip thread adds, the NATS loop's callback discards

    def _record(self, camera_id: str, incidents: dict[str, str], entries: list[dict[str, Any]]) -> None:
        ids = {k: v for k, v in incidents.items() if k.isdigit()}
        refs = [r for k, v in incidents.items() if (r := ClipRef.parse(k, v)) is not None]
        msg = ClipReady(camera_id, entries, ids, refs, self.clock())
        sending = self.bus.submit(lambda nc: self.publisher.send(nc, msg))
        with self._sending_lock:
            self.sending.add(sending)
        sending.add_done_callback(self._sent)

    def _sent(self, sending: concurrent.futures.Future[bool]) -> None:
        with self._sending_lock:
            self.sending.discard(sending)

    def unsent(self) -> set[concurrent.futures.Future[bool]]:
        with self._sending_lock:
            return set(self.sending)

    def _retention(self, now: float) -> None:
        return None

    def observed(self, trigger: Trigger) -> None:
        """A camera observation this shard just handed to JetStream: its clip, keyed by a ref."""
        window = self.cfg.windows.get(trigger.category)
        if window is None or trigger.source_kind != "camera" or trigger.source_id not in self.rings:
            return
        ref = ref_key(trigger.category, trigger.ts)
        self.request(
            ClipRequest(
                0, trigger.category, trigger.source_id, trigger.ts, window.pre_s, window.post_s, ref=ref
            )
        )

    async def on_live(self, msg: Any) -> None:
        """Committed changes of every process (core NATS): an SOS (or any incident not from a camera) that
        links one of this shard's cameras gets its clip here, with the incident's id."""
        try:
            events = json.loads(msg.data).get("events") or []
            for event in events:
                if isinstance(event, dict) and event.get("action") in _TRIGGERS:
                    self._linked(event.get("incident") or {})
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("%s: live change ignored for clips: %s", self.name, exc)

    def _linked(self, inc: Mapping[str, Any]) -> None:
        window = self.cfg.windows.get(str(inc.get("category")))
        if window is None or inc.get("source_kind") == "camera":
            return  # camera incidents come from this shard's own observations (above)
        cameras = [c for c in (inc.get("evidence") or {}).get("cameras") or [] if c in self.rings]
        if not cameras:
            return
        at = datetime.fromisoformat(str(inc["last_trigger_at"])).timestamp()
        for cam in cameras:
            self.request(
                ClipRequest(int(inc["id"]), str(inc["category"]), cam, at, window.pre_s, window.post_s)
            )


class ClipTriggers:
    """The shard pipeline's ConditionSink: the bus first (the alarm never waits), then the clip request."""

    def __init__(self, bus: ConditionSink, clips: ShardClipRecorder) -> None:
        self.bus, self.clips = bus, clips

    def raise_condition(self, trigger: Trigger) -> object:
        out = self.bus.raise_condition(trigger)
        self.clips.observed(trigger)
        return out

    def observe_condition(self, trigger: Trigger, *, cleared: bool = False) -> object:
        out = self.bus.observe_condition(trigger, cleared=cleared)
        if not cleared:
            self.clips.observed(trigger)
        return out

    def clear_condition(
        self, category_name: str, source_id: str, note: str, now: float | None = None
    ) -> object:
        return self.bus.clear_condition(category_name, source_id, note, now)


class ShardClips:
    """What the shard actor holds: `sink` for its pipeline, `tap` for its readers; `stop` finishes clips."""

    def __init__(
        self, settings: Settings, bus: BusEngine, name: str, evidence: EvidenceStorage | None = None
    ) -> None:
        """`evidence`: the shard's evidence storage (`storage.evidence`); by default the shared folders."""
        self.bus = bus
        self.enabled = settings.clips.enabled
        store = clip_store(settings, evidence or FolderStorage())
        self.recorder = ShardClipRecorder(settings, store, bus, name, CollectorRegistry())
        self.sink: ConditionSink = ClipTriggers(bus, self.recorder) if self.enabled else bus
        self.tap = self.recorder.tap if self.enabled else None
        if self.enabled:
            self.recorder.start()
            subject = settings.distributed.live_subject
            self.bus.submit(lambda nc: nc.subscribe(subject, cb=self.recorder.on_live))

    def status(self) -> dict[str, Any]:
        return {
            "recording": sorted(c for c in self.recorder.rings if self.recorder.is_recording(c)),
            "reported": self.recorder.publisher.published,
            "unreported": self.recorder.publisher.failed,
        }

    def stop(self, timeout_s: float = 5.0) -> None:
        """What was received is finished and reported (while JetStream answers) before the bus closes."""
        if self.enabled:
            self.recorder.stop()
            concurrent.futures.wait(self.recorder.unsent(), timeout=timeout_s)
