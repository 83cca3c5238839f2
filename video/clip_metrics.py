"""Series of evidence clips: written, shared, deleted (with why), buffer and disk bytes, write time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.packet_ring import PacketRing


class ClipMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.written = Counter(
            "sharpeyes_clips_written",
            "Evidence clips finished, by outcome (saved, failed: storage; nothing_to_show: no packets)",
            ["outcome"],
            registry=registry,
        )
        self.shared = Counter(
            "sharpeyes_clips_shared",
            "Triggers that extended or joined a clip already being written on their camera",
            registry=registry,
        )
        self.deleted = Counter(
            "sharpeyes_clips_deleted",
            "Clips deleted by retention, by reason (age, disk_budget)",
            ["reason"],
            registry=registry,
        )
        self.errors = Counter(
            "sharpeyes_clips_errors", "Unexpected failures on the clip thread", registry=registry
        )
        self.write_seconds = Histogram(
            "sharpeyes_clip_finalize_seconds",
            "Closing a clip: MP4 index moved to the front (faststart), rename and sha256",
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.clip_seconds = Histogram(
            "sharpeyes_clip_length_seconds",
            "Length of the clips written",
            registry=registry,
            buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180),
        )
        self.disk_bytes = Gauge("sharpeyes_clips_disk_bytes", "Bytes of clips on disk", registry=registry)
        self._buffer = Gauge(
            "sharpeyes_clip_buffer_bytes",
            "Encoded video held in memory for clips",
            ["camera"],
            registry=registry,
        )

    def watch_ring(self, ring: PacketRing) -> None:
        self._buffer.labels(ring.camera_id).set_function(lambda: ring.bytes)
