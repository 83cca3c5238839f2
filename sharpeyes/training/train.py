"""Train with ultralytics, export to ONNX, and prove the export loads in our `onnx` detector backend.

The base model is a local `.pt` (fine-tune) or a model YAML such as `yolov8n.yaml` (from scratch; it ships
inside ultralytics). A `.pt` that is not on disk is refused: ultralytics would download one by that name.
The ONNX is exported at the training size with its class names in the metadata, which our backend reads,
so `{kind: onnx, model: …}` gives detections named `smoke` and `fire` — what the fire and smoke rules match.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sharpeyes.training.dataset import Dataset, write_data_yaml
from sharpeyes.training.offline import amp_setting, provide_fonts, set_offline_env


@dataclass(frozen=True, slots=True)
class TrainOptions:
    model: str
    out: Path
    epochs: int = 100
    imgsz: int = 640
    batch: int = 16
    device: str = "cpu"
    workers: int = 2
    amp: str = "auto"
    plots: bool = True
    fraction: float = 1.0
    patience: int = 50
    seed: int = 0
    name: str = "fire_smoke"  # the detector's name in detector.yaml and the ONNX file's stem


@dataclass(frozen=True, slots=True)
class TrainResult:
    weights: Path  # best.pt
    onnx: Path
    detector_yaml: Path
    metrics: dict[str, float]
    seconds: float


def check_base_model(model: str) -> str:
    """The model argument, or ValueError: a `.pt` must exist locally (never downloaded)."""
    path = Path(model).expanduser()
    if path.suffix in {".yaml", ".yml"}:
        return str(path) if path.is_file() else model  # a bare name resolves inside ultralytics' own cfg
    if path.suffix != ".pt":
        raise ValueError(f"base model {model!r}: want a local .pt file or a model .yaml (e.g. yolov8n.yaml)")
    if not path.is_file():
        raise ValueError(f"base model {model}: no such file (sharpeyes train never downloads weights)")
    return str(path)


def detector_config(onnx: Path, names: tuple[str, ...]) -> dict[str, object]:
    """The `detectors:` entry for the export: every model class kept under its own name."""
    return {"kind": "onnx", "model": str(onnx), "classes": {name: name for name in names}}


def verify_onnx(onnx: Path, names: tuple[str, ...]) -> None:
    """Load the export in our backend and run one frame; raises if it does not load or names differ."""
    from detectors.base import build_detector
    from detectors.config import parse_detector_config
    from ingest.types import Frame

    detector = build_detector(parse_detector_config(detector_config(onnx, names)))
    try:
        if tuple(detector.class_names) != names:
            raise ValueError(f"{onnx}: classes {detector.class_names}, expected {names}")
        frame = Frame("train-check", 0, time.time(), time.monotonic_ns(), np.zeros((360, 640, 3), np.uint8))
        detector.detect([frame])
    finally:
        detector.close()


def train(dataset: Dataset, options: TrainOptions) -> TrainResult:
    """Train, export and verify; the run's files live under `options.out/run`."""
    base = check_base_model(options.model)
    out = options.out.resolve()
    data_yaml = write_data_yaml(dataset, out / "data.yaml")
    set_offline_env()
    from ultralytics import YOLO

    provide_fonts()
    start = time.monotonic()
    model = YOLO(base, task="detect")
    model.train(
        data=str(data_yaml),
        epochs=options.epochs,
        imgsz=options.imgsz,
        batch=options.batch,
        device=options.device,
        workers=options.workers,
        project=str(out),
        name="run",
        exist_ok=True,
        pretrained=base.endswith(".pt"),
        amp=amp_setting(options.device, options.amp),
        plots=options.plots,
        fraction=options.fraction,
        patience=options.patience,
        seed=options.seed,
        deterministic=True,
    )
    trainer = model.trainer
    assert trainer is not None, "ultralytics trained without a trainer"
    weights = Path(trainer.best if Path(trainer.best).is_file() else trainer.last)
    metrics = {k: round(float(v), 5) for k, v in (trainer.metrics or {}).items()}
    exported = YOLO(str(weights), task="detect").export(
        format="onnx", imgsz=options.imgsz, simplify=False, dynamic=False, device=options.device
    )
    onnx = out / f"{options.name}.onnx"
    shutil.copyfile(exported, onnx)
    verify_onnx(onnx, dataset.names)
    detector_yaml = out / "detector.yaml"
    detector_yaml.write_text(
        yaml.safe_dump({"detectors": {options.name: detector_config(onnx, dataset.names)}}, sort_keys=False),
        encoding="utf-8",
    )
    return TrainResult(weights, onnx, detector_yaml, metrics, time.monotonic() - start)
