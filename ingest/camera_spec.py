"""What ingest needs to know about one camera: the validated, redaction-aware spec a reader runs from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ingest.config import StreamConfig
from ingest.redact import redact_url
from ingest.sources import source_kind


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """What ingest needs to know about one camera (the config layer builds these).

    ``detect_url`` is an optional low-resolution sub-stream: when given, it feeds the detectors and the main
    ``url`` is decoded alongside (keyframes only by default) for snapshots and live view.
    ``stall_s``: no frame for this long restarts the reader. ``down_after_s``: not online for this long is
    ``video_loss``. ``max_frame_age_s``: older frames are never handed to a consumer.
    """

    id: str
    url: str = field(repr=False)
    detect_url: str | None = field(default=None, repr=False)
    transport: Literal["tcp", "udp"] = "tcp"
    decoder: Literal["auto", "pyav", "opencv"] = "auto"
    decoder_threads: int = 1
    max_frame_age_s: float = 1.0
    stall_s: float = 10.0
    open_timeout_s: float = 10.0
    down_after_s: float = 30.0
    up_after_s: float = 0.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    offline_after_failures: int = 3
    loop: bool = True
    pace: bool = True
    main_keyframes_only: bool = True
    fmt: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("camera id must not be empty")
        for url in (self.url, self.detect_url):
            if url is not None:
                source_kind(url)  # raises ValueError on an unsupported scheme
        if self.transport not in ("tcp", "udp"):
            raise ValueError(f"camera {self.id}: transport must be tcp or udp")
        if min(self.max_frame_age_s, self.stall_s, self.open_timeout_s, self.backoff_initial_s) <= 0:
            raise ValueError(f"camera {self.id}: ages, timeouts and backoff must be > 0")

    @classmethod
    def from_config(cls, camera_id: str, stream: StreamConfig) -> CameraSpec:
        """The reader's spec from the configured stream part of a camera."""
        return cls(camera_id, **stream.stream_fields())

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        detect = f", detect_url={redact_url(self.detect_url)!r}" if self.detect_url else ""
        return f"CameraSpec(id={self.id!r}, url={self.safe_url!r}{detect}, transport={self.transport!r})"
