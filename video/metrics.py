"""Series of the video path beyond ingest and the batchers (which register their own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class VideoMetrics:
    """Series of the video path beyond ingest and the batchers (which register their own)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gate = Counter(
            "sharpeyes_video_gate_frames",
            "Frames offered to the motion gate, by decision reason (first, motion, forced, still, disabled)",
            ["camera", "reason"],
            registry=registry,
        )
        self.observations = Counter(
            "sharpeyes_video_observations",
            "Rule observations from camera video",
            ["camera", "kind", "level"],
            registry=registry,
        )
        self.capture_to_observation = Histogram(
            "sharpeyes_capture_to_observation_seconds",
            "Frame capture (decode wall time) to the rule observation it caused",
            ["kind"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.observation_to_incident = Histogram(
            "sharpeyes_observation_to_incident_seconds",
            "Rule observation to its incident change committed (snapshot included)",
            ["kind"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.errors = Counter(
            "sharpeyes_video_errors",
            "Failures in the video path outside the readers and batchers",
            ["stage"],
            registry=registry,
        )
