"""Config of evidence clips: which incidents get one, how long before and after, how long they are kept.

Defaults follow DB15/T 3968—2025 for the one-key alarm (30 s before the press, pushed automatically) and
what an operator needs to judge a camera alarm (10 s before, 20 s after).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ingest.config import Strict


class ClipWindow(Strict):
    pre_s: float = Field(ge=0, le=300, description="seconds before the trigger")
    post_s: float = Field(ge=0, le=300, description="seconds after the trigger")


_DEFAULT_WINDOWS = {
    "sos": ClipWindow(pre_s=30, post_s=30),
    "fire": ClipWindow(pre_s=10, post_s=20),
    "smoke": ClipWindow(pre_s=10, post_s=20),
    "crowd": ClipWindow(pre_s=10, post_s=20),
    "gathering": ClipWindow(pre_s=10, post_s=20),
    "tamper": ClipWindow(pre_s=10, post_s=20),
    "camera_tamper": ClipWindow(pre_s=10, post_s=20),  # who covered or turned the camera: the seconds before
    "video_loss": ClipWindow(pre_s=10, post_s=20),
}


class ClipRetention(Strict):
    days: dict[str, float] = Field(
        default_factory=lambda: {"default": 30.0, "sos": 90.0, "fire": 90.0},
        description="days a finished incident's clips are kept, per category ('default' for the rest)",
    )
    max_bytes: int = Field(
        20 * 1024**3, ge=1, description="disk budget of all clips; the oldest of finished incidents go first"
    )
    every_s: float = Field(60.0, gt=0, description="how often retention runs")

    def days_for(self, category: str) -> float:
        return self.days.get(category, self.days.get("default", 30.0))


class ClipsConfig(Strict):
    enabled: bool = True
    dir: str | None = Field(None, description="where clips go; default: `clips/` beside the snapshots")
    windows: dict[str, ClipWindow] = Field(
        default_factory=lambda: dict(_DEFAULT_WINDOWS),
        description="categories that get a clip, each with its window; others get none",
    )
    buffer_max_bytes: int = Field(
        8 * 1024 * 1024, ge=256 * 1024, description="per camera: the in-memory buffer's bound in bytes"
    )
    max_clip_s: float = Field(180.0, gt=0, description="re-triggers extend a clip up to this length")
    link_secret_env: str | None = Field(
        None,
        description="environment variable holding the key that signs expiring clip links, so a link outlives "
        "a restart and every API process accepts it; unset: a key per run",
    )
    retention: ClipRetention = ClipRetention()

    @model_validator(mode="after")
    def _within_clip(self) -> ClipsConfig:
        for name, w in self.windows.items():
            if w.pre_s + w.post_s > self.max_clip_s:
                raise ValueError(f"windows.{name}: pre_s + post_s is longer than max_clip_s")
        return self

    @property
    def buffer_s(self) -> float:
        """What the ring keeps: the longest pre-roll, plus slack for the clip thread's polling."""
        return max((w.pre_s for w in self.windows.values()), default=0.0) + 3.0
