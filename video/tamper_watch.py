"""Camera tampering per camera: rate limit, analyser, dwell, and the before/after evidence pictures.

The reader thread calls :meth:`TamperWatch.offer` with each frame (a few a second are analysed, ~0.3 ms
each); a dwell that passes or a scene that is back becomes a :class:`TamperEvent` on the pipeline's alarm
queue, and :meth:`TamperWatch.report` (alarm thread) saves the snapshots and makes the engine calls.
``camera_tamper`` incidents open on an observation (so a silence on the camera holds them back) and close
like video loss, by themselves, once every kind has been clear for ``clear_s``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from prometheus_client import CollectorRegistry, Histogram

from alarms.grids import Placement
from alarms.locale import DEFAULT_TIMEZONE, local_time
from alarms.triggers import ConditionSink, Trigger
from detectors.annotate import annotate, encode_jpeg
from detectors.tamper import TamperAnalyser, TamperReading
from detectors.tamper_config import KIND_ORDER, TamperConfig, TamperKind
from detectors.types import Detections
from ingest.types import Frame
from video.config import CameraConfig, VideoConfig
from video.snapshots import SnapshotStore

log = logging.getLogger(__name__)

CATEGORY = "camera_tamper"
_BEFORE_EVERY_S = 5.0  # how often the last normal frame is kept as the "before" picture
_BEFORE_WIDTH = 960  # kept that small: one picture per camera stays in memory


@dataclass(slots=True)
class DwellTracker:
    """Which kinds have held for how long; pure (time comes from the frames), table-testable."""

    cfg: TamperConfig
    since: dict[TamperKind, float] = field(default_factory=dict)
    last: dict[TamperKind, float] = field(default_factory=dict)
    raised: TamperKind | None = None
    clear_since: float | None = None

    def step(self, kinds: frozenset[TamperKind], t: float) -> tuple[str, TamperKind | None] | None:
        """("raise", kind) when a kind's dwell passed, ("clear", None) when the scene has been back for
        ``clear_s``, else None. A kind's dwell survives gaps up to ``grace_s``."""
        for kind in KIND_ORDER:
            if self.cfg.dwell_s.of(kind) is None:
                continue
            if kind in kinds:
                self.since.setdefault(kind, t)
                self.last[kind] = t
            elif kind in self.since and t - self.last[kind] > self.cfg.grace_s:
                del self.since[kind], self.last[kind]
        held = [
            k for k in KIND_ORDER if k in self.since and t - self.since[k] >= (self.cfg.dwell_s.of(k) or 0)
        ]
        if self.since:
            self.clear_since = None
        if held and self.raised is None:
            self.raised = held[0]
            return ("raise", held[0])
        if self.raised is None or self.since:
            return None
        self.clear_since = t if self.clear_since is None else self.clear_since
        if t - self.clear_since >= self.cfg.clear_s:
            self.raised, self.clear_since = None, None
            return ("clear", None)
        return None

    def rearm(self) -> None:
        """A silence ended: forget the raise, so a tampering still in view opens a fresh incident."""
        self.raised, self.clear_since = None, None
        self.since.clear()
        self.last.clear()


@dataclass(frozen=True, slots=True)
class TamperEvent:
    """A raise (``kind`` set) or a clear (``kind`` None) of one camera's tampering."""

    camera_id: str
    kind: TamperKind | None
    reading: TamperReading
    captured_at: float
    after: np.ndarray | None = None
    before: np.ndarray | None = None
    before_at: float | None = None
    held: tuple[TamperKind, ...] = ()


class CameraTamper:
    """One camera's analyser and dwell, driven by its reader thread."""

    def __init__(self, camera_id: str, cfg: TamperConfig) -> None:
        self.camera_id, self.cfg = camera_id, cfg
        self.analyser = TamperAnalyser(cfg)
        self.dwell = DwellTracker(cfg)
        self.lock = threading.Lock()
        self._next = float("-inf")
        self._before: np.ndarray | None = None
        self._before_at = float("-inf")

    def due(self, t: float) -> bool:
        """At most ``fps`` frames a second (a late frame restarts the schedule)."""
        if t < self._next:
            return False
        period = 1.0 / self.cfg.fps
        self._next = self._next + period if t - self._next < period else t + period
        return True

    def analyse(self, frame: Frame) -> TamperEvent | None:
        """The frame's reading through the dwell; call for frames that were ``due``."""
        t = frame.captured_at
        reading = self.analyser.analyse(frame.image, t)
        if not reading.kinds and not reading.learning and t - self._before_at >= _BEFORE_EVERY_S:
            self._before, self._before_at = _shrunk(frame.image), t
        step = self.dwell.step(reading.kinds, t)
        if step is None:
            return None
        held = tuple(k for k in KIND_ORDER if k in self.dwell.since)
        if step[0] == "clear":
            return TamperEvent(self.camera_id, None, reading, t)
        before_at = self._before_at if self._before is not None else None
        return TamperEvent(self.camera_id, step[1], reading, t, frame.image, self._before, before_at, held)


def _shrunk(image: np.ndarray) -> np.ndarray:
    if image.shape[1] <= _BEFORE_WIDTH:
        return image.copy()
    scale = _BEFORE_WIDTH / image.shape[1]
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


class TamperWatch:
    """Every enabled camera's tamper checks, and what their events do to incidents."""

    def __init__(
        self,
        configs: Mapping[str, TamperConfig],
        put: Callable[[object], None],
        registry: CollectorRegistry,
        snapshots: SnapshotStore,
        *,
        quality: int = 85,
        max_width: int = 1280,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        self.cameras = {cid: CameraTamper(cid, cfg) for cid, cfg in configs.items() if cfg.enabled}
        self._put, self.snapshots = put, snapshots
        self._quality, self._max_width, self._timezone = quality, max_width, timezone
        self.seconds = Histogram(
            "sharpeyes_camera_tamper_analysis_seconds",
            "Time to analyse one frame for camera tampering",
            buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01),
            registry=registry,
        )

    @classmethod
    def of(
        cls,
        cameras: Sequence[CameraConfig],
        video: VideoConfig,
        put: Callable[[object], None],
        registry: CollectorRegistry,
        snapshots: SnapshotStore,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> TamperWatch:
        """The pipeline's: each enabled camera with its own ``tamper:`` or else ``video.tamper``."""
        configs = {c.id: c.tamper or video.tamper for c in cameras if c.enabled}
        quality, width = video.snapshot_quality, video.snapshot_max_width
        return cls(configs, put, registry, snapshots, quality=quality, max_width=width, timezone=timezone)

    def offer(self, frame: Frame) -> None:
        """Reader thread: analyse the frame when it is due; an event goes onto the alarm queue."""
        cam = self.cameras.get(frame.camera_id)
        if cam is None:
            return
        with cam.lock:
            if not cam.due(frame.captured_at):
                return
            with self.seconds.time():
                event = cam.analyse(frame)
        if event is not None:
            self._put(event)

    def rearm(self, camera_id: str) -> int:
        cam = self.cameras.get(camera_id)
        if cam is None:
            return 0
        with cam.lock:
            cam.dwell.rearm()
        return 1

    def report(self, event: TamperEvent, placement: Placement, sink: ConditionSink, call: Any) -> None:
        """Alarm thread: snapshots, then the engine call through ``call`` (the pipeline's retrying one)."""
        cid = event.camera_id
        if event.kind is None:
            log.info("camera %s: tampering over, scene back %s", cid, event.reading.measures())
            call(sink.clear_condition, CATEGORY, cid, "camera view back to normal", event.captured_at)
            return
        log.warning("camera %s: tampering (%s) %s", cid, event.kind, event.reading.measures())
        evidence: dict[str, Any] = {
            "kind": event.kind,
            "kinds": list(event.held),
            "camera_id": cid,
            "measures": event.reading.measures(),
        }
        after = self._save(cid, event.after, event.captured_at, "after", event.kind)
        before = self._save(cid, event.before, event.before_at, "before", "reference")
        if after is not None:
            evidence |= {"snapshot": after, "snapshot_after": after}
        if before is not None:
            evidence["snapshot_before"] = before
        trigger = Trigger(
            category=CATEGORY,
            source_kind="camera",
            source_id=cid,
            placement=placement,
            ts=event.captured_at,
            note=f"camera tamper: {event.kind}",
            evidence=evidence,
            source_ts=event.captured_at,
            event_id=f"cam:{cid}:{CATEGORY}:{event.kind}:{round(event.captured_at * 1000)}",
        )
        call(sink.observe_condition, trigger)

    def _save(
        self, cid: str, image: np.ndarray | None, ts: float | None, level: str, what: str
    ) -> str | None:
        if image is None or ts is None:
            return None
        try:
            caption = f"{cid} camera tamper {what} {local_time(ts, self._timezone)}"
            canvas = annotate(image, Detections.empty(), caption=caption, max_width=self._max_width)
            return self.snapshots.save(cid, ts, CATEGORY, level, encode_jpeg(canvas, self._quality))
        except Exception:  # no picture is bad; no incident would be worse
            log.exception("camera %s: tamper snapshot failed", cid)
            return None
