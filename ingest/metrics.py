"""Prometheus metrics for camera ingest, registered on the registry the caller passes (tests use a fresh one).

Labels are the camera id only: never a URL, which may carry a password.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge

from ingest.types import StreamState

# Numeric codes for the state gauge (documented in its help text).
STATE_CODES: dict[StreamState, int] = {
    StreamState.STOPPED: 0,
    StreamState.STARTING: 1,
    StreamState.ONLINE: 2,
    StreamState.RECONNECTING: 3,
    StreamState.OFFLINE: 4,
}


class IngestMetrics:
    """All ingest series; one instance per registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.registry = reg
        label = ["camera"]
        self.frames = Counter("sharpeyes_camera_frames", "Frames decoded", label, registry=reg)
        self.dropped = Counter(
            "sharpeyes_camera_dropped_frames",
            "Frames dropped at handoff as older than max age",
            label,
            registry=reg,
        )
        self.reconnects = Counter("sharpeyes_camera_reconnects", "Reconnect attempts", label, registry=reg)
        self.decode_errors = Counter(
            "sharpeyes_camera_decode_errors", "Packets the decoder rejected", label, registry=reg
        )
        self.loop_errors = Counter(
            "sharpeyes_camera_loop_errors",
            "Unexpected exceptions caught at a reader loop boundary",
            label,
            registry=reg,
        )
        self.restarts = Counter(
            "sharpeyes_camera_reader_restarts",
            "Reader threads restarted by the watchdog (stalled or dead)",
            label,
            registry=reg,
        )
        self.fps_in = Gauge("sharpeyes_camera_fps", "Decoded frames per second", label, registry=reg)
        self.fps_out = Gauge(
            "sharpeyes_camera_delivered_fps", "Frames per second handed to consumers", label, registry=reg
        )
        self.frame_age = Gauge(
            "sharpeyes_camera_last_frame_age_seconds",
            "Seconds since the last decoded frame",
            label,
            registry=reg,
        )
        self.state = Gauge(
            "sharpeyes_camera_state",
            "Stream state: 0 stopped, 1 starting, 2 online, 3 reconnecting, 4 offline",
            label,
            registry=reg,
        )

    def forget(self, camera_id: str) -> None:
        """Drop a removed camera's series."""
        for metric in (
            self.frames,
            self.dropped,
            self.reconnects,
            self.decode_errors,
            self.loop_errors,
            self.restarts,
            self.fps_in,
            self.fps_out,
            self.frame_age,
            self.state,
        ):
            with contextlib.suppress(KeyError):
                metric.remove(camera_id)
