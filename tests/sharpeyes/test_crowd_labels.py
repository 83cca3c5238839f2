"""Label files from ShanghaiTech head annotations: the two part A images we hold give their known counts,
and the file written is one the counting suite loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sharpeyes.evaluation.crowd_labels import label_items, main
from sharpeyes.evaluation.suite import CountLabels


def test_the_annotations_we_hold_give_their_known_counts(assets: Path, tmp_path, monkeypatch) -> None:
    items = label_items(assets / "images" / "crowd", assets)
    assert [(i["media"], i["count"]) for i in items] == [
        ("images/crowd/IMG_1.jpg", 1546),
        ("images/crowd/IMG_4.jpg", 413),
    ]
    out = tmp_path / "sht.yaml"
    monkeypatch.setenv("SHARPEYES_ASSETS", str(assets))
    main(["images/crowd", "--out", str(out)])
    labels = CountLabels.model_validate(yaml.safe_load(out.read_text()))
    assert [item.count for item in labels.items] == [1546, 413]


def test_an_image_without_its_annotation_is_named(assets: Path, tmp_path) -> None:
    shutil.copy(assets / "images" / "crowd" / "IMG_1.jpg", tmp_path / "IMG_7.jpg")
    with pytest.raises(ValueError, match=r"GT_IMG_7\.mat"):
        label_items(tmp_path, tmp_path)
    (tmp_path / "GT_IMG_7.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError):
        label_items(tmp_path, tmp_path)
