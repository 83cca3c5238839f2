"""The camera status row: one model, built by one function, for the local pipeline and the shards' view.

It is what ``GET /api/cameras`` lists, so it is a contract (pydantic, in the OpenAPI document). Credential
free: URLs are redacted here, before anything leaves the video layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from alarms.grids import Placement
from ingest.redact import redact_url
from ingest.types import StreamHealth
from video.config import CameraConfig


class StreamStatus(BaseModel):
    """One decoded stream of a camera (main, or the detection sub-stream)."""

    stream: str = Field(description="main | detect")
    state: str = Field(description="connecting | online | stalled | offline | stopped")
    fps_in: float | None = None
    fps_out: float | None = None
    last_frame_age_s: float | None = None
    frames: int = 0
    dropped: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    error: str | None = None
    last_error: str | None = None


class DetectorStatus(BaseModel):
    running: bool
    error: str | None = None


class CameraStatus(BaseModel):
    """A configured camera with the health of its primary stream (flattened) and its detectors."""

    id: str
    name: str
    grid_id: str
    community_id: str
    street_id: str
    enabled: bool
    url: str = Field(description="redacted: no password")
    detect_url: str | None = None
    state: str = Field(
        description="a stream state, `disabled`, `config_error`, or with `runtime: ray` `unknown` (its shard "
        "has not reported within a few seconds) or `on_shard` (analysed on a Ray shard, health not followed)"
    )
    shard: int | None = Field(
        None, description="with `runtime: ray`: the shard that runs it and reported this"
    )
    stream: str | None = None
    fps_in: float | None = None
    fps_out: float | None = None
    last_frame_age_s: float | None = None
    frames: int | None = None
    dropped: int | None = None
    reconnects: int | None = None
    decode_errors: int | None = None
    error: str | None = None
    last_error: str | None = None
    video_loss: bool = False
    analysed_frames: int = 0
    detectors: dict[str, DetectorStatus] = Field(default_factory=dict)
    rules: list[str] = Field(default_factory=list, description="rule ids (`kind` or `kind@zone`, or a name)")
    streams: list[StreamStatus] = Field(default_factory=list, description="both streams, with a detect_url")


def stream_status(h: StreamHealth) -> StreamStatus:
    return StreamStatus(
        stream=h.stream,
        state=h.state.value,
        fps_in=h.fps,
        fps_out=h.fps_out,
        last_frame_age_s=None if h.last_frame_age is None else round(h.last_frame_age, 3),
        frames=h.frames,
        dropped=h.dropped,
        reconnects=h.reconnects,
        decode_errors=h.decode_errors,
        error=h.error,
        last_error=h.last_error,
    )


def camera_status(
    cfg: CameraConfig,
    grid: Placement,
    *,
    streams: Sequence[StreamHealth] = (),
    state: str | None = None,
    video_loss: bool = False,
    analysed_frames: int = 0,
    detectors: dict[str, DetectorStatus] | None = None,
) -> CameraStatus:
    """The row; `state` overrides the primary stream's (a camera analysed elsewhere, or disabled)."""
    primary_name = "detect" if cfg.detect_url else "main"
    primary = next((h for h in streams if h.stream == primary_name), None)
    health = stream_status(primary).model_dump() if primary is not None and state is None else {}
    health.setdefault("state", state or "disabled")
    return CameraStatus(
        id=cfg.id,
        name=cfg.name,
        grid_id=cfg.grid,
        community_id=grid.community_id,
        street_id=grid.street_id,
        enabled=cfg.enabled,
        url=redact_url(cfg.url),
        detect_url=redact_url(cfg.detect_url) if cfg.detect_url else None,
        video_loss=video_loss,
        analysed_frames=analysed_frames,
        detectors=detectors or {},
        rules=[r.rule_id for r in cfg.rules],
        streams=[stream_status(h) for h in streams] if cfg.detect_url else [],
        **health,
    )
