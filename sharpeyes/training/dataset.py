"""Find a YOLO-format dataset's splits and write the data YAML ultralytics trains from.

Two layouts are common and both are accepted: ultralytics' own (`images/train`, `labels/train`, …) and the
one D-Fire ships in (`train/images`, `train/labels`, `test/…`). Label files are scanned once so a wrong
class list or an empty split is reported before a long training run starts, not after it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

# D-Fire's class ids: 0 smoke, 1 fire. Our fire/smoke rules match these names (case-insensitive).
DFIRE_NAMES: tuple[str, ...] = ("smoke", "fire")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_VAL_NAMES = ("val", "valid", "validation", "test")


class DatasetError(ValueError):
    """The folder is not a usable YOLO-format dataset; the message says what is missing or wrong."""


@dataclass(frozen=True, slots=True)
class SplitStats:
    images: int
    labelled: int  # images with a non-empty label file
    instances: Counter[int]


@dataclass(frozen=True, slots=True)
class Dataset:
    root: Path
    train: Path  # image folders
    val: Path
    names: tuple[str, ...]
    stats: dict[str, SplitStats]


def _split_dirs(root: Path, split: str) -> tuple[Path, Path] | None:
    for images, labels in (
        (root / "images" / split, root / "labels" / split),
        (root / split / "images", root / split / "labels"),
    ):
        if images.is_dir():
            return images, labels
    return None


def _scan(images: Path, labels: Path, names: tuple[str, ...]) -> SplitStats:
    files = [p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DatasetError(f"{images}: no images")
    labelled, instances = 0, Counter[int]()
    for image in files:
        label = labels / image.relative_to(images).with_suffix(".txt")
        if not label.is_file():
            continue  # an image without a label file is a negative (D-Fire has thousands)
        rows = [line.split() for line in label.read_text().splitlines() if line.strip()]
        for row in rows:
            if len(row) != 5 or not row[0].isdigit() or int(row[0]) >= len(names):
                raise DatasetError(
                    f"{label}: bad row {' '.join(row)!r} (want 'class cx cy w h', {len(names)} classes)"
                )
            instances[int(row[0])] += 1
        labelled += bool(rows)
    return SplitStats(images=len(files), labelled=labelled, instances=instances)


def find_dataset(root: Path, names: tuple[str, ...] = DFIRE_NAMES) -> Dataset:
    """The dataset under `root`; DatasetError when a split is missing, empty or has bad label rows."""
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    train = _split_dirs(root, "train")
    if train is None:
        raise DatasetError(f"{root}: no images/train or train/images folder")
    val = next((found for split in _VAL_NAMES if (found := _split_dirs(root, split))), None)
    if val is None:
        raise DatasetError(f"{root}: no validation split (images/val or {'/'.join(_VAL_NAMES)}/images)")
    stats = {"train": _scan(*train, names), "val": _scan(*val, names)}
    if not stats["train"].labelled:
        raise DatasetError(f"{train[1]}: no labelled images to learn from")
    return Dataset(
        root=root.resolve(), train=train[0].resolve(), val=val[0].resolve(), names=names, stats=stats
    )


def write_data_yaml(dataset: Dataset, path: Path) -> Path:
    """The ultralytics data file: absolute split paths, class names by id, no `download:` key."""
    data = {
        "path": str(dataset.root),
        "train": str(dataset.train),
        "val": str(dataset.val),
        "names": dict(enumerate(dataset.names)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def describe(dataset: Dataset) -> str:
    """One line per split: images, labelled images, boxes per class."""
    lines = []
    for split, s in dataset.stats.items():
        boxes = ", ".join(f"{dataset.names[c]} {s.instances[c]}" for c in range(len(dataset.names)))
        lines.append(f"{split}: {s.images} images, {s.labelled} labelled, boxes: {boxes}")
    return "\n".join(lines)
