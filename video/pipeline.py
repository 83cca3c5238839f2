"""The video path, wired: cameras → motion gate → cross-camera batchers → rules → incidents with snapshots.

Domain logic stays in its packages; this module only connects them and decides which thread does what:

- reader threads (ingest) rate-limit each camera to ``detect_fps`` and run its motion gate (~0.2 ms);
- one batcher thread per detector runs the model and the camera's rules (pure and quick);
- one ``video-alarms`` thread draws and saves snapshots and makes the blocking engine calls (SQLite), and
  ticks the rules, so neither a detector nor the event loop ever waits on the database.

Video loss: the camera manager's down/up transitions become ``video_loss`` incidents and their auto-close.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from alarms.grids import GridDirectory
from alarms.locale import DEFAULT_TIMEZONE
from alarms.observations import Observation, ObservationLevel
from alarms.triggers import ConditionSink
from detectors.base import build_detector
from detectors.batcher_pool import BatcherPool
from detectors.motion import MotionGate
from detectors.types import DetectionResult
from ingest.camera_spec import CameraSpec
from ingest.health import VideoLossEvent
from ingest.manager import CameraManager
from ingest.packet_ring import TapFactory
from ingest.types import Frame, StreamHealth, StreamState
from video.camera_state import CameraState
from video.config import CameraConfig, VideoConfig, detector_configs, detector_for
from video.evidence import detections_view, snapshot_jpeg
from video.metrics import VideoMetrics
from video.rule_group import RuleGroup
from video.snapshots import SnapshotStore
from video.status import CameraStatus, DetectorStatus, camera_status
from video.tamper_watch import TamperEvent, TamperWatch
from video.triggers import cleared_trigger, observation_trigger, video_loss_trigger

log = logging.getLogger(__name__)

_STOP = object()
_RETRIES = (0.2, 1.0, 3.0)  # engine writes retried after these pauses before the observation is given up


@dataclass(frozen=True, slots=True)
class _Seen:
    """An observation with the result that caused it (for the snapshot)."""

    obs: Observation
    result: DetectionResult | None
    group: RuleGroup


class VideoPipeline:
    """Owns the camera manager, one batcher per detector in use, and the ``video-alarms`` thread."""

    def __init__(
        self,
        cameras: list[CameraConfig],
        declared_detectors: Mapping[str, Any],
        video: VideoConfig,
        *,
        engine: ConditionSink,
        directory: GridDirectory,
        snapshots: SnapshotStore,
        registry: CollectorRegistry,
        env: Mapping[str, str],
        timezone: str = DEFAULT_TIMEZONE,
        packet_tap: TapFactory | None = None,
    ) -> None:
        self.video = video
        self.timezone = timezone  # locale.timezone: the time written on evidence pictures
        self.engine = engine
        self.snapshots = snapshots
        self.registry = registry
        self.metrics = VideoMetrics(registry)
        self.configs = list(cameras)
        self._detector_cfgs = detector_configs(declared_detectors, env)
        self.detector_errors: dict[str, str] = {}
        self.cameras: dict[str, CameraState] = {}
        self._queue: queue.Queue[object] = queue.Queue()
        self._grids = {c.id: directory.grid_placement(c.grid) for c in cameras}  # for scoping, disabled too
        for cam in cameras:
            if cam.enabled:
                self.cameras[cam.id] = self._camera_state(cam, directory)
        self.manager = CameraManager(
            [CameraSpec.from_config(c.id, c) for c in cameras if c.enabled],
            registry=registry,
            on_state_change=self._on_state,
            on_video_loss=lambda event: self._queue.put(event),
            packet_tap=packet_tap,  # evidence clips: each camera's encoded packets (video/clip_recorder.py)
        )
        self._batchers: dict[str, BatcherPool] = {}
        self._restarted_at: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._unsubscribe: Any = None
        self._latest_results: dict[str, DetectionResult] = {}  # per camera, for the live-view overlay
        self.tamper = TamperWatch.of(cameras, video, self._queue.put, registry, snapshots, timezone)

    def _camera_state(self, cam: CameraConfig, directory: GridDirectory) -> CameraState:
        location = cam.location.model_dump(exclude_none=True) if cam.location else {}
        placement = directory.camera_placement(cam.id, cam.grid, cam.name, location)
        gate = MotionGate.from_config(cam.motion or self.video.motion)
        state = CameraState(cam, placement, gate, period_ns=int(1e9 / cam.detect_fps))
        by_detector: dict[str, list[Any]] = {}
        for rule in cam.rules:
            by_detector.setdefault(detector_for(cam, rule.kind, self.video), []).append(rule)
        state.groups = {name: RuleGroup(cam, placement, name, rules) for name, rules in by_detector.items()}
        return state

    # ----- lifecycle (blocking: call from a worker thread) ----------------------------------------------
    def start(self) -> None:
        """Load the detectors in use, then start the alarm thread and the cameras."""
        for name in sorted({n for cam in self.cameras.values() for n in cam.groups}):
            try:
                self._batchers[name] = self._new_batcher(name)
            except Exception as exc:  # a missing model must not take the SOS path or other cameras down
                self.detector_errors[name] = f"{type(exc).__name__}: {exc}"[:300]
                self.metrics.errors.labels("detector_load").inc()
                log.error("detector %s could not be loaded; its rules are off: %s", name, exc)
        self._thread = threading.Thread(target=self._alarm_loop, name="video-alarms", daemon=True)
        self._thread.start()
        self._unsubscribe = self.manager.subscribe(self._on_frame)
        self.manager.start()
        log.info("video: %d cameras, detectors %s", len(self.cameras), ", ".join(self._batchers) or "none")

    def _new_batcher(self, name: str) -> BatcherPool:
        """`video.batcher.workers` workers, each with its own instance of the detector; raises when the
        model cannot be loaded."""
        detectors: list[Any] = []
        try:
            for _ in range(self.video.batcher.workers):
                detectors.append(build_detector(self._detector_cfgs[name]))
        except Exception:
            for d in detectors:
                d.close()
            raise
        batcher = BatcherPool(
            detectors,
            functools.partial(self._on_result, name),
            registry=self.registry,
            max_batch=self.video.batcher.max_batch,
            max_wait_ms=self.video.batcher.max_wait_ms,
            name=name,
            max_age_s={c.config.id: c.config.max_frame_age_s for c in self.cameras.values()},
        )
        return batcher.start()

    def _watch_detectors(self) -> None:
        """A model call that never returns would silence its rules on every camera: past
        `detector_hang_s` the batcher is abandoned (its thread cannot be killed; it ends if the call ever
        returns) and a fresh detector takes over, at most once per `detector_restart_every_s`."""
        now = time.monotonic()
        for name, batcher in list(self._batchers.items()):
            hung_s = batcher.busy_for(now)
            if hung_s < self.video.detector_hang_s:
                continue
            self.detector_errors[name] = f"model call hung for {hung_s:.0f} s"
            last = self._restarted_at.get(name)
            if last is not None and now - last < self.video.detector_restart_every_s:
                continue
            self._restarted_at[name] = now
            self.metrics.errors.labels("detector_hang").inc()
            log.error("detector %s hung for %.0f s; replacing it with a fresh instance", name, hung_s)
            try:
                fresh = self._new_batcher(name)
            except Exception as exc:
                log.error("detector %s could not be reloaded: %s", name, exc)
                continue
            batcher.abandon()
            self._batchers[name] = fresh
            self.detector_errors[name] = f"model call hung for {hung_s:.0f} s; replaced"

    def stop(self, timeout: float = 10.0) -> None:
        """Cameras first (no new frames), then the batchers, then the alarm thread drains its queue."""
        deadline = time.monotonic() + timeout
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.manager.stop(timeout=min(5.0, timeout / 2))
        for batcher in self._batchers.values():
            batcher.stop(timeout=max(0.5, deadline - time.monotonic()))
            batcher.close()
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(max(0.5, deadline - time.monotonic()))
            if self._thread.is_alive():
                log.warning("video-alarms thread still busy at shutdown")
            self._thread = None

    # ----- frames → detectors (reader threads) -----------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        self.tamper.offer(frame)  # before the motion gate: a covered or frozen camera shows no motion
        cam = self.cameras.get(frame.camera_id)
        if cam is None or not cam.groups:
            return
        with cam.lock:
            if not cam.due(frame.mono_ns):
                return
            # Through the latest-frame slot: the newest frame, never one past its max age (counted).
            fresh = self.manager.latest(frame.camera_id, newer_than=frame.seq - 1)
            if fresh is None:
                return
            frame = fresh
            decision = cam.gate.check(frame, frame.captured_at)
        self.metrics.gate.labels(frame.camera_id, decision.reason.value).inc()
        if not decision.run:
            return
        cam.analysed += 1
        for name in cam.groups:
            batcher = self._batchers.get(name)
            if batcher is not None:
                batcher.submit(frame)

    # ----- detector results → rules (batcher threads) ----------------------------------------------------
    def _on_result(self, detector: str, result: DetectionResult) -> None:
        group = self.cameras[result.frame.camera_id].groups[detector]
        self._latest_results[result.frame.camera_id] = result
        seen, observations = group.feed(result)
        for obs in observations:
            self.metrics.capture_to_observation.labels(obs.kind).observe(
                max(0.0, time.time() - result.frame.captured_at)
            )
            self._queue.put(_Seen(obs, seen, group))

    # ----- camera state (reader and watchdog threads) ----------------------------------------------------
    def _on_state(self, health: StreamHealth) -> None:
        cam = self.cameras.get(health.camera_id)
        if cam is not None and health.state is StreamState.ONLINE and not cam.seen_online:
            cam.seen_online = True
            self._queue.put(("online", health.camera_id))

    # ----- the alarm thread: snapshots, engine calls, rule ticks -----------------------------------------
    def _alarm_loop(self) -> None:
        next_tick = time.monotonic() + self.video.rules_tick_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            try:
                if item is not None:
                    self._handle(item)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.video.rules_tick_s
                    self._tick(time.time())
            except Exception:  # loop boundary: one bad item must not stop every camera's alarms
                self.metrics.errors.labels("alarm_loop").inc()
                log.exception("video alarm handling failed for %r", item)

    def _handle(self, item: object) -> None:
        if isinstance(item, _Seen):
            self._observed(item)
        elif isinstance(item, VideoLossEvent):
            self._video_loss(item)
        elif isinstance(item, TamperEvent) and item.camera_id in self.cameras:
            self.tamper.report(item, self.cameras[item.camera_id].placement, self.engine, self._engine_call)
        elif isinstance(item, tuple) and item[0] == "online":
            # Back after a restart of ours: a video_loss left open by the last run is closed here.
            self._engine_call(self.engine.clear_condition, "video_loss", item[1], "video online")

    def _tick(self, now: float) -> None:
        self._watch_detectors()
        for cam in self.cameras.values():
            for group in cam.groups.values():
                for obs in group.tick(now):
                    self._observed(_Seen(obs, None, group))

    def _observed(self, seen: _Seen) -> None:
        obs, cam_id = seen.obs, seen.obs.source
        self.metrics.observations.labels(cam_id, obs.kind, obs.level.value).inc()
        log.info(
            "camera %s: %s %s (rule %s, count %s, confidence %s)",
            cam_id,
            obs.kind,
            obs.level.value,
            obs.rule,
            obs.count,
            obs.confidence,
        )
        placement = seen.group.placement
        if obs.level is ObservationLevel.CLEARED:
            self._engine_call(self.engine.observe_condition, cleared_trigger(obs, placement), cleared=True)
            return
        snapshot = self._snapshot(seen.group.camera, obs, seen.result) if seen.result is not None else None
        trigger = observation_trigger(obs, placement, seen.result, snapshot)
        if self._engine_call(self.engine.observe_condition, trigger):
            self.metrics.observation_to_incident.labels(obs.kind).observe(max(0.0, time.time() - obs.ts))

    def _snapshot(self, cam: CameraConfig, obs: Observation, result: DetectionResult) -> str | None:
        try:
            main = self.manager.latest(cam.id, stream="main") if cam.detect_url else None
            jpeg, captured_at = snapshot_jpeg(
                result, main, cam, f"{cam.id} {obs.kind} {obs.level.value}", self.video, self.timezone
            )
            return self.snapshots.save(cam.id, captured_at, obs.kind, obs.level.value, jpeg)
        except Exception:  # no picture is bad; no incident would be worse
            self.metrics.errors.labels("snapshot").inc()
            log.exception("camera %s: snapshot for %s failed", cam.id, obs.event_id)
            return None

    def _video_loss(self, event: VideoLossEvent) -> None:
        cam = self.cameras.get(event.camera_id)
        if cam is None:
            return
        cam.video_lost = event.down
        if event.down:
            trigger = video_loss_trigger(
                cam.config.id, cam.config.url, cam.placement, event, time.time(), time.monotonic()
            )
            self._engine_call(self.engine.raise_condition, trigger)
        else:
            self._engine_call(self.engine.clear_condition, "video_loss", cam.config.id, "video back")

    def _engine_call(self, fn: Any, *args: Any, **kwargs: Any) -> bool:
        """Blocking store writes, retried briefly: a busy database must not lose a fire."""
        for attempt, pause in enumerate((*_RETRIES, None)):
            try:
                fn(*args, **kwargs)
                return True
            except Exception:
                self.metrics.errors.labels("engine").inc()
                if pause is None:
                    log.exception("engine %s failed %d times; giving up", fn.__name__, attempt + 1)
                    return False
                log.warning("engine %s failed; retrying in %.1f s", fn.__name__, pause, exc_info=True)
                time.sleep(pause)
        return False

    def rearm(self, camera_id: str, kind: str) -> int:
        """A silence on the camera ended: its rules of this kind start afresh (see video/rearm.py)."""
        cam = self.cameras.get(camera_id)
        n = sum(g.rearm(kind) for g in cam.groups.values()) if cam is not None else 0
        n += self.tamper.rearm(camera_id) if kind == "camera_tamper" else 0
        log.info("camera %s: %d %s rule(s) re-armed after a silence", camera_id, n, kind)
        return n

    # ----- read side, for the API ------------------------------------------------------------------------
    def camera_scope(self, camera_id: str) -> tuple[str, str] | None:
        """(street, grid) of a camera, for scoping API answers; None for an unknown camera."""
        grid = self._grids.get(camera_id)
        return None if grid is None else (grid.street_id, grid.grid_id)

    def latest_frame(self, camera_id: str, newer_than: int = -1, timeout: float = 0.0) -> Frame | None:
        """The newest full-rate decoded frame for live view (MJPEG, and WebRTC of B-frame cameras)."""
        cam = self.cameras.get(camera_id)
        if cam is None:
            return None
        keyframes_only = cam.config.detect_url and cam.config.main_keyframes_only
        stream = "detect" if keyframes_only else "main"
        return self.manager.latest(camera_id, newer_than=newer_than, timeout=timeout, stream=stream)

    def latest_detections(self, camera_id: str) -> dict[str, Any] | None:
        """The newest detector boxes of a camera, in frame pixels (the page draws them over the video)."""
        result = self._latest_results.get(camera_id)
        return None if result is None else detections_view(camera_id, result)

    def status(self) -> list[CameraStatus]:
        """Every configured camera with its stream health; credential-free."""
        health: dict[str, list[StreamHealth]] = {}
        for h in self.manager.health(all_streams=True):
            health.setdefault(h.camera_id, []).append(h)
        rows = []
        for cfg in self.configs:
            state = self.cameras.get(cfg.id)
            groups = state.groups if state else {}
            detectors = {
                name: DetectorStatus(running=name in self._batchers, error=self.detector_errors.get(name))
                for name in groups
            }
            rows.append(
                camera_status(
                    cfg,
                    self._grids[cfg.id],
                    streams=health.get(cfg.id, []),
                    video_loss=bool(state and state.video_lost),
                    analysed_frames=state.analysed if state else 0,
                    detectors=detectors,
                )
            )
        return rows
