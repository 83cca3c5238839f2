"""`sharpeyes train`: argument parsing only; ultralytics and torch are imported when the command runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_train(args: argparse.Namespace) -> int:
    from sharpeyes.training.dataset import DatasetError, describe, find_dataset
    from sharpeyes.training.train import TrainOptions, check_base_model, train

    names = tuple(n.strip() for n in args.names.split(",") if n.strip())
    try:
        check_base_model(args.model)
        dataset = find_dataset(Path(args.data), names)
    except (DatasetError, ValueError) as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    print(describe(dataset))
    options = TrainOptions(
        model=args.model,
        out=Path(args.out),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        workers=args.workers,
        amp=args.amp,
        plots=args.plots,
        fraction=args.fraction,
        patience=args.patience,
        seed=args.seed,
        name=args.name,
    )
    result = train(dataset, options)
    print(json.dumps({"metrics": result.metrics, "seconds": round(result.seconds, 1)}))
    print(f"weights: {result.weights}\nonnx: {result.onnx}\ndetector config: {result.detector_yaml}")
    return 0


def _name(text: str) -> str:
    """A detector name the service config accepts (and a safe file stem): letters, digits, _ . : -."""
    if not text or len(text) > 64 or text[0] == "." or not all(c.isalnum() or c in "_.:-" for c in text):
        raise argparse.ArgumentTypeError("letters, digits and _ . : - (e.g. fire_smoke_v2)")
    return text


def _imgsz(text: str) -> int:
    value = int(text)
    if value < 32 or value % 32:
        raise argparse.ArgumentTypeError("a positive multiple of 32")
    return value


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tr = sub.add_parser("train", help="train a fire/smoke YOLO model (ultralytics) and export it to ONNX")
    tr.add_argument(
        "data", help="YOLO-format dataset: images/{train,val} + labels/…, or D-Fire's train/, test/"
    )
    tr.add_argument(
        "--model", default="yolov8n.yaml", help="local .pt to fine-tune, or a model .yaml (scratch)"
    )
    tr.add_argument("--names", default="smoke,fire", help="class names in id order (D-Fire: smoke,fire)")
    tr.add_argument("--epochs", type=int, default=100)
    tr.add_argument("--imgsz", type=_imgsz, default=640, help="training and export size (multiple of 32)")
    tr.add_argument("--batch", type=int, default=16)
    tr.add_argument("--device", default="cpu", help="cpu, 0, 0,1 …")
    tr.add_argument("--workers", type=int, default=2, help="dataloader processes")
    tr.add_argument("--amp", choices=["auto", "fp16", "off"], default="auto", help="mixed precision on GPUs")
    tr.add_argument("--no-plots", dest="plots", action="store_false", help="skip ultralytics' plots")
    tr.add_argument("--fraction", type=float, default=1.0, help="share of the training images to use")
    tr.add_argument("--patience", type=int, default=50, help="stop after this many epochs without gain")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", default="var/train", help="output folder (data.yaml, run/, NAME.onnx)")
    tr.add_argument(
        "--name", type=_name, default="fire_smoke", help="detector name in OUT/detector.yaml and file stem"
    )
    tr.set_defaults(func=cmd_train)
