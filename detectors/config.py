"""Detector configuration: one pydantic model per backend, chosen by `kind` (a discriminated union).

Paths may use `~` and `${ENV}` (e.g. `${SHARPEYES_ASSETS}/weights/yolox_nano.onnx`); an unset variable is a
config error rather than a confusing "file not found" later. Files are checked when the detector is built,
so a config can be validated on a machine without the weights.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

_UNSET_VAR = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


class Strict(BaseModel):
    """Base for every detector config model: unknown keys are an error, not a silent typo."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def expand_path(value: str | Path) -> Path:
    """`~` and `${VAR}` expanded; an unset variable raises ValueError naming it."""
    text = os.path.expanduser(os.path.expandvars(str(value)))
    leftover = _UNSET_VAR.search(text)
    if leftover:
        raise ValueError(f"environment variable {leftover.group(0)} in path {value!r} is not set")
    return Path(text)


def _multiple_of_32(size: tuple[int, int]) -> tuple[int, int]:
    if any(side % 32 or side < 32 for side in size):
        raise ValueError(f"input size {size} must be positive multiples of 32 (the models' largest stride)")
    return size


ClassMapping = dict[str, str]


class _ModelFile(Strict):
    model: Path = Field(description="weights path; ~ and ${ENV} are expanded")
    name: str | None = Field(None, description="label in results and metrics; defaults to kind:file stem")

    @field_validator("model", mode="before")
    @classmethod
    def _expand(cls, value: str | Path) -> Path:
        return expand_path(value)

    @property
    def label(self) -> str:
        return self.name or f"{getattr(self, 'kind', 'model')}:{self.model.stem}"


class UltralyticsConfig(_ModelFile):
    """Any model ultralytics loads: `.pt`, `.onnx`, an OpenVINO `*_openvino_model/` directory."""

    kind: Literal["ultralytics"] = "ultralytics"
    classes: ClassMapping | None = Field(
        None, description="model class name -> our name (e.g. {person: person, fire: fire}); others dropped"
    )
    conf: float = Field(0.25, gt=0, le=1)
    iou: float = Field(0.45, gt=0, le=1)
    imgsz: int | tuple[int, int] = Field(640, description="square side or (height, width), multiples of 32")
    device: str = Field("cpu", description="ultralytics device string: cpu, 0, cuda:0 …")
    max_det: int = Field(300, ge=1)
    preload_modules: tuple[str, ...] = Field(
        (), description="modules imported before loading, for models with custom layers (e.g. fire_detector)"
    )

    @field_validator("imgsz")
    @classmethod
    def _check_imgsz(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        _multiple_of_32((value, value) if isinstance(value, int) else value)
        return value


class OnnxConfig(_ModelFile):
    """A YOLOX or YOLOv8/ultralytics ONNX export run directly, with our own pre/post-processing."""

    kind: Literal["onnx"] = "onnx"
    arch: Literal["auto", "yolox", "yolov5", "yolov8"] = Field(
        "auto", description="yolov5: decoded [B, N, 5+classes] output (YOLOv5/v7), told from YOLOX by N"
    )
    input_size: tuple[int, int] | None = Field(
        None,
        description="(height, width); None = the model's own. A different size, e.g. (384, 640) for 16:9 "
        "cameras, needs a model whose size can be made dynamic (YOLOX and ultralytics YOLOv8 exports can).",
    )
    conf: float = Field(0.25, gt=0, le=1)
    iou: float = Field(0.45, gt=0, le=1)
    threads: int = Field(2, ge=1, le=256, description="intra-op threads")
    class_names: tuple[str, ...] | None = Field(
        None, description="the model's classes in id order; None = from the model's metadata, else COCO"
    )
    classes: ClassMapping | None = Field(None, description="model class name -> our name; others dropped")
    max_detections: int = Field(300, ge=1)
    batching: Literal["auto", "loop"] = Field(
        "auto", description="auto: one model call per batch when the batch dim is (or can be made) dynamic"
    )
    dequantize: bool = Field(
        False, description="rewrite a dynamically int8-quantised export to fp32 convolutions at load"
    )
    runtime: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime", description="openvino needs the optional `openvino` package"
    )

    @field_validator("input_size", mode="before")
    @classmethod
    def _square(cls, value: int | tuple[int, int] | list[int] | None) -> tuple[int, int] | list[int] | None:
        return (value, value) if isinstance(value, int) else value

    @field_validator("input_size")
    @classmethod
    def _check_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        return None if value is None else _multiple_of_32(value)

    @model_validator(mode="after")
    def _classes_known(self) -> OnnxConfig:
        if self.classes and self.class_names:
            unknown = sorted(set(self.classes) - set(self.class_names))
            if unknown:
                raise ValueError(f"classes {unknown} are not in class_names")
        return self


class ClassicalFireConfig(Strict):
    """Colour + flicker + growth heuristic for flames, grey slow-moving plumes for smoke. Needs no weights."""

    kind: Literal["classical_fire"] = "classical_fire"
    name: str | None = None
    sensitivity: float = Field(0.5, ge=0, le=1, description="0 = strict (fewer false alarms), 1 = eager")
    fire: bool = True
    smoke: bool = True
    work_width: int = Field(320, ge=64, le=1920, description="frames are downscaled to this width first")
    history: int = Field(8, ge=3, le=64, description="frames of per-camera history for flicker and growth")
    min_interval_s: float = Field(
        0.15, ge=0, le=5, description="history keeps at most one frame per interval (fps-independent stats)"
    )
    min_fire_area: float = Field(0.0004, gt=0, lt=1, description="smallest flame region, fraction of frame")
    min_smoke_area: float = Field(0.01, gt=0, lt=1, description="smallest smoke region, fraction of frame")
    fire_flicker: float = Field(
        0.25, ge=0, le=1, description="fraction of a region's fire pixels that must flicker"
    )
    flicker_step: float = Field(
        8.0,
        ge=0,
        le=255,
        description="grey levels (0–255, at work_width) a pixel's brightness must jump between two history "
        "frames for its move in or out of the flame colour to count as flicker: noise dithering a pixel "
        "across the colour threshold is not flicker (docs/ACCURACY.md: flame transitions median 17–78, "
        "sunset-sky dithering 99th percentile 6; 0 = the old rule, any colour change counts)",
    )
    fire_rigid_max: float = Field(
        0.7,
        ge=0,
        le=1,
        description="a flame candidate whose shape overlaps itself more than this from frame to frame, once "
        "moved onto its new centroid (median IoU), is rigid — a moving or blinking lamp — and dropped "
        "(flames on our clips: median 0.3–0.4, 90th percentile ≤ 0.56); 1 = off",
    )
    smoke_motion: float = Field(0.02, ge=0, le=1, description="fraction of a smoke region that must change")
    smoke_value_min: int = Field(
        50, ge=0, le=255, description="darkest smoke pixel (HSV value): a grey plume over a dark room counts"
    )
    smoke_growth: float = Field(
        1.6,
        ge=1,
        description="a smoke region must reach this × the largest area it had `smoke_growth_window_s` or "
        "more ago, unless it is large and grey (docs/ACCURACY.md: chosen on eval/fire_tuning.yaml)",
    )
    smoke_growth_window_s: float = Field(3.0, gt=0, le=15, description="growth is judged over this many s")
    smoke_contained: float = Field(
        0.6, ge=0, le=1, description="share of the older region that must lie inside the grown one"
    )
    smoke_large_area: float = Field(
        0.03,
        gt=0,
        le=1,
        description="a grey (not white) smoke region this big (frame fraction) needs no growth",
    )
    smoke_white_max: float = Field(
        200, ge=0, le=255, description="mean grey level from which a region counts as white (steam, cloud)"
    )

    @property
    def label(self) -> str:
        return self.name or "classical_fire"


class FireFusionConfig(Strict):
    """Classical flame/smoke candidates that a learned detector must confirm (`detectors.fire_fusion`);
    without `model` it is the classical detector alone, so the same config works before weights exist."""

    kind: Literal["fire_fusion"] = "fire_fusion"
    name: str | None = None
    classical: ClassicalFireConfig = ClassicalFireConfig()
    model: Annotated[OnnxConfig | UltralyticsConfig, Field(discriminator="kind")] | None = Field(
        None, description="fire/smoke weights, e.g. `sharpeyes train`'s {kind: onnx, model: …fire_smoke.onnx}"
    )
    confirm: tuple[Literal["fire", "smoke"], ...] = Field(
        ("fire", "smoke"), description="classes the model must confirm; others pass as the heuristic says"
    )
    model_min_score: float = Field(0.25, ge=0, le=1, description="weakest model box that confirms")
    min_overlap: float = Field(
        0.2,
        gt=0,
        le=1,
        description="intersection over the smaller of a candidate and a model box of the same class "
        "(the heuristic boxes flame pixels, the model the whole fire: containment, not IoU)",
    )

    @property
    def label(self) -> str:
        return self.name or "fire_fusion"


class DensityConfig(_ModelFile):
    """Crowd density (MCNN weights as HDF5, or CSRNet as a NumPy .npz): a head count where boxes fail."""

    kind: Literal["density"] = "density"
    arch: Literal["auto", "mcnn", "csrnet"] = Field(
        "auto",
        description="auto: .npz files are CSRNet (detectors.density_csrnet), anything else MCNN; CSRNet "
        "counts dense crowds better but costs ~12–15× MCNN per frame (docs/ACCURACY.md, crowd counting)",
    )
    input_scale: float = Field(
        1.0,
        gt=0,
        le=4,
        description="frames are resized by this factor first; counts are calibrated at 1.0 (ShanghaiTech "
        "pixel scale): 0.5 is 4× faster but undercounts dense crowds (IMG_1: 1027 → 285)",
    )
    threads: int = Field(2, ge=1, le=256)
    map_width: int = Field(64, ge=8, le=512, description="width of the density map returned in extra")


class TiledBoxesConfig(Strict):
    """A person-box model run on overlapping tiles of the frame (and on the whole frame), merged across
    tiles by NMS (`detectors.tiled_boxes`): small, far people get the model's full input resolution."""

    kind: Literal["tiled"] = "tiled"
    name: str | None = None
    boxes: Annotated[OnnxConfig | UltralyticsConfig, Field(discriminator="kind")]
    grid: tuple[int, int] = Field((2, 2), description="(rows, columns) of tiles over the tiled region")
    overlap: float = Field(0.2, ge=0, lt=0.5, description="fraction of a tile shared with its neighbour")
    region: tuple[float, float] = Field(
        (0.0, 1.0),
        description="top and bottom of the tiled band, fractions of the frame height: perspective — tile "
        "only the far part where people are small, e.g. (0, 0.6) for a street seen from above",
    )
    full_frame: bool = Field(True, description="also run the whole frame, for people larger than a tile")
    merge_iou: float = Field(0.5, gt=0, le=1, description="boxes overlapping more (IoU) are one person")
    merge_ios: float = Field(
        0.7,
        gt=0,
        le=1,
        description="… or when this share of the smaller box lies inside the larger (a person cut by a "
        "tile edge, seen whole in the next tile or the full frame)",
    )
    cut_covered: float = Field(
        0.3,
        ge=0,
        le=1,
        description="a box cut by a tile edge is kept only if less than this share of it is covered by "
        "boxes already kept (else it is a piece of someone already counted)",
    )

    @field_validator("grid")
    @classmethod
    def _grid(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not all(1 <= side <= 8 for side in value):
            raise ValueError(f"grid {value} must be 1–8 rows and 1–8 columns")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] < value[1] <= 1:
            raise ValueError(f"region {value} must be top, bottom with 0 <= top < bottom <= 1")
        return value

    @property
    def label(self) -> str:
        return self.name or f"tiled:{self.boxes.label}"


class CrowdFusionConfig(Strict):
    """Person boxes for sparse scenes, the density map for dense ones, chosen per zone
    (`detectors.crowd_fusion`). The switch is the density model's people per megapixel of a zone."""

    kind: Literal["crowd_fusion"] = "crowd_fusion"
    name: str | None = None
    boxes: Annotated[OnnxConfig | UltralyticsConfig | TiledBoxesConfig, Field(discriminator="kind")]
    density: DensityConfig
    dense_per_mpx: float = Field(
        250,
        gt=0,
        description="density-model people per megapixel of a zone (or frame) at or above which it counts "
        "as dense; MCNN-A gives ≤ ~180 on our sparse scenes and ≥ ~450 on dense ones (docs/ACCURACY.md)",
    )
    sparse_per_mpx: float | None = Field(
        None, ge=0, description="a dense zone goes back to boxes only below this; default 0.6 × dense_per_mpx"
    )
    hold_s: float = Field(3.0, ge=0, le=600, description="a zone keeps a backend at least this long")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "dense_above" in data:
            raise ValueError(
                "dense_above (a whole-frame count) was replaced by dense_per_mpx: people per megapixel, "
                "which also works per zone (e.g. dense_per_mpx: 250)"
            )
        return data

    @model_validator(mode="after")
    def _levels(self) -> CrowdFusionConfig:
        if self.sparse_per_mpx is not None and self.sparse_per_mpx > self.dense_per_mpx:
            raise ValueError(
                f"sparse_per_mpx ({self.sparse_per_mpx}) must not exceed dense_per_mpx ({self.dense_per_mpx})"
            )
        return self

    @property
    def sparse_level(self) -> float:
        return self.sparse_per_mpx if self.sparse_per_mpx is not None else 0.6 * self.dense_per_mpx

    @property
    def label(self) -> str:
        return self.name or "crowd_fusion"


DetectorConfig = Annotated[
    UltralyticsConfig
    | OnnxConfig
    | ClassicalFireConfig
    | FireFusionConfig
    | DensityConfig
    | TiledBoxesConfig
    | CrowdFusionConfig,
    Field(discriminator="kind"),
]

_DETECTOR_ADAPTER: TypeAdapter[DetectorConfig] = TypeAdapter(DetectorConfig)


def parse_detector_config(data: object) -> DetectorConfig:
    """Validate a mapping (from YAML) into the right backend config."""
    return _DETECTOR_ADAPTER.validate_python(data)


class MotionGateConfig(Strict):
    """Skip inference on still scenes; fire/smoke still get a look every `force_every_s`."""

    enabled: bool = True
    size: tuple[int, int] = Field((64, 36), description="(width, height) of the grey thumbnail compared")
    pixel_threshold: int = Field(12, ge=1, le=255, description="grey-level change that counts as changed")
    min_changed_fraction: float = Field(0.004, ge=0, le=1)
    force_every_s: float | None = Field(2.0, gt=0, description="None = never force a look")


class BatcherConfig(Strict):
    max_batch: int = Field(8, ge=1, le=256)
    max_wait_ms: float = Field(15.0, ge=0, le=5000, description="latency budget for a batch to fill")
    workers: int = Field(
        2,
        ge=1,
        le=64,
        description="worker threads per detector, each with its own model instance; a camera stays on one. "
        "One worker tops out near 8 YOLOX cameras at 5 fps; 2 carried 10 on 2 cores (benchmarks/README.md)",
    )


Point = tuple[float, float]


class ZoneConfig(Strict):
    """A polygon in pixel coordinates of the camera's frame, with an optional real-world area."""

    name: str = Field(min_length=1, max_length=64)
    polygon: list[Point] = Field(min_length=3)
    area_m2: float | None = Field(None, gt=0)


class IgnoreConfig(Strict):
    polygons: list[list[Point]] = Field(default_factory=list)
