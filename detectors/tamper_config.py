"""Config of the camera-tamper checks (``tamper:`` in ``video:`` or on a camera): which kinds, their dwell,
and the thresholds the analyser compares against its learned reference scene.

The thresholds were chosen on the tamper suite (``eval/tamper.yaml``; docs/ACCURACY.md says on what).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TamperKind = Literal["cover", "blur", "shift", "freeze", "dark", "glare"]
# When several kinds hold at once, the incident is named after the first of them in this order: a black
# cover is also dark, a blinding light also wipes out texture, and the cause is what the operator acts on.
KIND_ORDER: tuple[TamperKind, ...] = ("freeze", "glare", "cover", "dark", "blur", "shift")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TamperDwell(_Strict):
    """Seconds each kind must hold before an incident opens; null turns the kind off (e.g. ``shift`` on a
    PTZ camera that moves by design). Long enough that a bus, a passer-by or a flash is over first."""

    cover: float | None = Field(8.0, gt=0)
    blur: float | None = Field(10.0, gt=0)
    shift: float | None = Field(10.0, gt=0)
    freeze: float | None = Field(8.0, gt=0)
    dark: float | None = Field(10.0, gt=0)
    glare: float | None = Field(8.0, gt=0)

    def of(self, kind: TamperKind) -> float | None:
        value: float | None = getattr(self, kind)
        return value


class TamperThresholds(_Strict):
    """What counts as abnormal, mostly as a ratio to the reference scene so exposure and content cancel."""

    cover_ratio: float = Field(
        0.35, gt=0, lt=1, description="coarse texture (contrast-normalised) below this share of the reference"
    )
    blur_ratio: float = Field(
        0.3, gt=0, lt=1, description="fine detail (Laplacian variance) below this share of the reference"
    )
    shift_similarity: float = Field(
        0.4, gt=-1, lt=1, description="edge-layout correlation with the reference below this: the view moved"
    )
    freeze_diff: float = Field(
        0.15, ge=0, description="mean grey-level change between analysed frames at or below this: frozen"
    )
    dark_level: float = Field(10.0, ge=0, le=255, description="mean grey level below this is too dark")
    dark_ratio: float = Field(
        0.2, gt=0, lt=1, description="…or below this share of the reference's mean (and below 60)"
    )
    glare_share: float = Field(0.5, gt=0, le=1, description="share of clipped-white pixels that blinds")


class TamperConfig(_Strict):
    """Per camera (``cameras[].tamper``) or for all (``video.tamper``); on by default."""

    enabled: bool = True
    fps: float = Field(2.0, gt=0, le=10, description="analysed frames per second (a downscaled grey frame)")
    width: int = Field(160, ge=64, le=640, description="analysis width in pixels")
    learn_s: float = Field(2.0, ge=0, description="the first reference is learned over this long")
    refresh_s: float = Field(
        60.0, gt=0, description="time constant of the reference; only normal frames refresh it"
    )
    clear_s: float = Field(5.0, ge=0, description="all clear for this long closes the incident")
    grace_s: float = Field(1.0, ge=0, description="a kind's dwell survives a normal-looking gap this short")
    dwell_s: TamperDwell = TamperDwell()
    thresholds: TamperThresholds = TamperThresholds()
