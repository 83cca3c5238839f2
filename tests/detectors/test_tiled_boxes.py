"""Person boxes on tiles: the tiles cover the frame, people seen twice or cut at a seam count once, and on a
real still with small far people the tiled model finds people the untiled one misses."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from detectors.base import build_detector
from detectors.config import CrowdFusionConfig, TiledBoxesConfig, parse_detector_config
from detectors.tiled_boxes import add_cut, cut_mask, merge_boxes, tile_grid
from detectors.types import Detections

NAMES = ("person",)


def dets(boxes: list[list[float]], scores: list[float] | None = None) -> Detections:
    n = len(boxes)
    return Detections(
        xyxy=np.asarray(boxes, dtype=np.float32).reshape(n, 4),
        scores=np.asarray(scores or [0.9] * n, dtype=np.float32),
        class_ids=np.zeros(n, dtype=np.int64),
        class_names=NAMES,
    )


def boxes_config(media) -> dict:
    return {
        "kind": "onnx",
        "model": str(media.path("weights/yolox_nano.onnx")),
        "input_size": [256, 416],
        "threads": 1,
        "classes": {"person": "person"},
    }


def test_tiles_cover_the_band_with_the_asked_overlap() -> None:
    tiles = tile_grid(640, 360, (2, 3), 0.2)
    assert len(tiles) == 6
    covered = np.zeros((360, 640), dtype=bool)
    for x0, y0, x1, y1 in tiles:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    (a, _, a_end, _), (b, _, _, _) = tiles[0], tiles[1]
    side = a_end - a
    assert a_end - b == pytest.approx(0.2 * side, abs=2)  # neighbours share a fifth of a tile

    far = tile_grid(640, 360, (1, 2), 0.2, region=(0.0, 0.6))
    assert {t[1] for t in far} == {0} and {t[3] for t in far} == {216}  # only the top 60 % is tiled


def runs(*ids: int) -> np.ndarray:
    return np.asarray(ids, dtype=np.int64)


def test_one_person_seen_in_two_tiles_or_cut_inside_a_whole_box_counts_once() -> None:
    seen_twice = dets([[100, 100, 140, 200], [102, 101, 141, 198]], [0.8, 0.7])
    assert len(merge_boxes(seen_twice, runs(0, 1), 0.5, 0.7)[0]) == 1
    part_inside_whole = dets([[100, 100, 140, 200], [100, 100, 140, 150]], [0.5, 0.9])
    assert len(merge_boxes(part_inside_whole, runs(0, 1), 0.5, 0.7)[0]) == 1
    # the same boxes from ONE run: the model kept both, e.g. a person half hidden behind another
    assert len(merge_boxes(part_inside_whole, runs(2, 2), 0.5, 0.7)[0]) == 2
    neighbours = dets([[100, 100, 140, 200], [135, 100, 175, 200]])  # shoulder to shoulder: two people
    assert len(merge_boxes(neighbours, runs(0, 1), 0.5, 0.7)[0]) == 2


def test_a_box_cut_by_a_tile_edge_is_kept_only_if_nothing_else_counts_it() -> None:
    tile = (0, 0, 320, 200)
    boxes = dets([[300, 50, 318, 120], [10, 10, 50, 100], [10, 150, 40, 199]])
    # right and bottom edges lie inside a 640×360 frame: boxes touching them are cut; the top-left is not
    assert cut_mask(boxes, tile, 640, 360).tolist() == [True, False, True]
    assert cut_mask(boxes, tile, 320, 200).tolist() == [False, False, False]  # frame edges cut nobody

    whole = dets([[290, 40, 330, 130]])  # the full frame (run 0) saw the first person whole
    cut = dets([[300, 50, 318, 120], [10, 150, 40, 199]])  # both from tile run 1
    merged = add_cut((whole, runs(0)), (cut, runs(1, 1)), 0.3)
    assert len(merged) == 2  # the covered piece is dropped, the one nobody else saw is kept
    assert [10, 150, 40, 199] in merged.xyxy.tolist()


def test_config_is_checked() -> None:
    with pytest.raises(ValidationError, match="grid"):
        TiledBoxesConfig.model_validate({"boxes": {"kind": "onnx", "model": "/x.onnx"}, "grid": [0, 2]})
    with pytest.raises(ValidationError, match="region"):
        TiledBoxesConfig.model_validate({"boxes": {"kind": "onnx", "model": "/x.onnx"}, "region": [0.7, 0.2]})
    fused = parse_detector_config(
        {
            "kind": "crowd_fusion",
            "boxes": {"kind": "tiled", "boxes": {"kind": "onnx", "model": "/x.onnx"}, "grid": [3, 3]},
            "density": {"kind": "density", "model": "/x.h5"},
        }
    )
    assert isinstance(fused, CrowdFusionConfig) and isinstance(fused.boxes, TiledBoxesConfig)


def test_tiles_find_small_far_people_the_whole_frame_misses(media) -> None:
    """street.jpg (1330², 14 people by eye, 9 of them small on the far pavements)."""
    frame = media.frame("images/people/street.jpg")
    plain = build_detector(parse_detector_config(boxes_config(media)))
    tiled = build_detector(parse_detector_config({"kind": "tiled", "boxes": boxes_config(media)}))
    try:
        untiled_n = len(plain.detect([frame])[0].detections.of_class("person"))
        result = tiled.detect([frame])[0]
        tiled_n = len(result.detections.of_class("person"))
    finally:
        plain.close()
        tiled.close()
    assert tiled_n > untiled_n
    assert abs(tiled_n - 14) < abs(untiled_n - 14)
    assert result.model == "tiled:onnx:yolox_nano"
    height, width = frame.image.shape[:2]
    assert (result.detections.xyxy[:, [0, 2]] <= width).all() and (
        result.detections.xyxy[:, [1, 3]] <= height
    ).all()


def test_tiled_boxes_count_a_fused_sparse_scene(media) -> None:
    """Inside crowd fusion, tiled boxes are what a sparse frame is counted by (bus.jpg: 4 people)."""
    from alarms.rules.measure import count_people

    config = {
        "kind": "crowd_fusion",
        "boxes": {"kind": "tiled", "boxes": boxes_config(media)},
        "density": {"kind": "density", "model": str(media.path("weights/mcnn_shtechA_660.h5")), "threads": 1},
    }
    fused = build_detector(parse_detector_config(config))
    try:
        result = fused.detect([media.frame("images/people/bus.jpg")])[0]
    finally:
        fused.close()
    assert result.extras.crowd_mode == "boxes"
    measured = count_people(result, source="auto")
    assert measured is not None and measured.method == "boxes" and 3 <= measured.count <= 5
