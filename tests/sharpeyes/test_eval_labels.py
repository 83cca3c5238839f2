"""The label files: they validate, their media exist, intervals fit the clips, and the dense-crowd counts
are the ShanghaiTech annotations themselves."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import yaml

from sharpeyes.evaluation.media import open_source
from sharpeyes.evaluation.suite import ClipLabels, CountLabels, LoadedSuite
from sharpeyes.evaluation.synthetic import SCENES

EVAL = Path(__file__).resolve().parents[2] / "eval"


@pytest.mark.parametrize("suite", ["full.yaml", "fast.yaml"])
def test_suites_load_and_name_existing_media(suite: str, assets: Path) -> None:
    loaded = LoadedSuite(EVAL / suite, {"SHARPEYES_ASSETS": str(assets)})
    for labels in loaded.clip_labels:
        loaded.media(labels.media)  # raises when missing
    for labels in loaded.count_labels.values():
        for item in labels.items:
            loaded.media(item.media)


@pytest.mark.parametrize("path", sorted((EVAL / "labels").glob("*.yaml")), ids=lambda p: p.stem)
def test_intervals_lie_within_the_clip(path: Path, assets: Path) -> None:
    data = yaml.safe_load(path.read_text())
    if "items" in data:
        CountLabels.model_validate(data)
        return
    labels = ClipLabels.model_validate(data)
    media = labels.media if labels.media.startswith("synthetic:") else assets / labels.media
    source = open_source(media)
    duration = source.duration_s
    source.close()
    for interval in [*labels.events, *labels.dont_care]:
        assert interval.start < duration
        assert interval.end is None or interval.end <= duration + 0.05


def test_dense_crowd_counts_are_the_annotations(assets: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    labels = CountLabels.model_validate(yaml.safe_load((EVAL / "labels" / "crowd_dense.yaml").read_text()))
    for item in labels.items:
        image = Path(item.media)
        mat = assets / image.parent / f"GT_{image.stem}.mat"
        points = scipy_io.loadmat(mat)["image_info"][0, 0][0, 0][0]
        assert item.count == len(points)
        h, w = cv2.imread(str(assets / item.media)).shape[:2]
        assert points[:, 0].max() <= w and points[:, 1].max() <= h  # the annotations belong to this image


def test_synthetic_scenes_are_deterministic_and_move() -> None:
    for make in SCENES.values():
        scene = make()
        a, b = scene.render(30), scene.render(30)
        assert a.shape == (360, 640, 3) and (a == b).all()
        assert cv2.absdiff(scene.render(0), scene.render(60)).mean() > 0.5
