"""ONNX YOLO backend on the real weights and images: counts, batching, graph rewrites, geometry."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from detectors.base import build_detector
from detectors.boxes import letterbox, nms
from detectors.config import parse_detector_config
from detectors.inference_session import open_session
from detectors.onnx_graph import make_input_dynamic, yolov8_raw_head
from detectors.onnx_yolo import OnnxYoloDetector, _Yolov8Decoder, _Yolov8RawDecoder
from detectors.types import Detections

YOLOX = "weights/yolox_nano.onnx"
YOLOV8 = "weights/yolov8n_int8.onnx"


def counts(detections: Detections) -> Counter[str]:
    return Counter(detections.name_of(int(c)) for c in detections.class_ids)


def build(media, model: str, **options) -> OnnxYoloDetector:
    detector = build_detector(
        parse_detector_config({"kind": "onnx", "model": str(media.path(model)), **options})
    )
    assert isinstance(detector, OnnxYoloDetector)
    return detector


@pytest.fixture(scope="module")
def yolox(media) -> OnnxYoloDetector:
    return build(media, YOLOX)


@pytest.fixture(scope="module")
def yolov8(media) -> OnnxYoloDetector:
    return build(media, YOLOV8, dequantize=True)


@pytest.mark.parametrize(
    ("model", "options", "expected_arch", "expected_graph", "batched"),
    [
        (YOLOX, {}, "yolox", "dynamic", True),
        (YOLOX, {"batching": "loop"}, "yolox", "original", False),
        (YOLOX, {"input_size": [256, 416]}, "yolox", "dynamic", True),
        # dynamic int8: a batch shares activation scales, so results would depend on the other cameras
        (YOLOV8, {}, "yolov8", "raw_head", False),
        (YOLOV8, {"input_size": [384, 640], "dequantize": True}, "yolov8", "raw_head", True),
    ],
)
def test_architecture_and_graph_are_detected(
    media, model, options, expected_arch, expected_graph, batched
) -> None:
    detector = build(media, model, **options)
    assert (detector.arch, detector.graph, detector.batched) == (expected_arch, expected_graph, batched)


@pytest.mark.parametrize(
    ("model", "options", "image", "expected"),
    [
        (YOLOX, {}, "images/people/bus.jpg", {"person": 4, "bus": 1}),
        (YOLOX, {}, "images/people/zidane.jpg", {"person": 2}),
        (YOLOV8, {}, "images/people/bus.jpg", {"person": 4, "bus": 1}),
        (YOLOV8, {}, "images/people/zidane.jpg", {"person": 2}),
        (YOLOV8, {"dequantize": True}, "images/people/bus.jpg", {"person": 4, "bus": 1}),
        # 16:9 input for landscape cameras: same people, 40 % less compute than 640×640
        (YOLOV8, {"input_size": [384, 640]}, "images/people/zidane.jpg", {"person": 2}),
        (YOLOX, {"input_size": [256, 416]}, "images/people/zidane.jpg", {"person": 2}),
    ],
)
def test_finds_the_people_and_vehicles(media, model, options, image, expected) -> None:
    detector = build(media, model, **options)
    (result,) = detector.detect([media.frame(image)])
    found = counts(result.detections)
    assert {name: found[name] for name in expected} == expected
    assert result.model == detector.name and result.inference_ms > 0
    height, width = result.frame.image.shape[:2]
    boxes = result.detections.xyxy
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()


def test_class_mapping_keeps_and_renames_only_mapped_classes(media) -> None:
    detector = build(media, YOLOX, classes={"person": "person", "bus": "vehicle", "car": "vehicle"})
    assert detector.class_names == ("person", "vehicle")
    (result,) = detector.detect([media.frame("images/people/bus.jpg")])
    assert counts(result.detections) == {"person": 4, "vehicle": 1}


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two N×4 arrays."""
    width = (np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])).clip(0)
    height = (np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])).clip(0)
    inter = width * height
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


@pytest.mark.parametrize(
    ("model", "options", "batch_size"),
    [(YOLOX, {}, 2), (YOLOV8, {"dequantize": True}, 2), (YOLOV8, {}, 1)],
)
def test_one_batched_call_matches_frame_by_frame(media, model, options, batch_size) -> None:
    detector = build(media, model, **options)
    frames = [
        media.frame(name, camera_id=name) for name in ("images/people/bus.jpg", "images/people/zidane.jpg")
    ]
    together = detector.detect(frames)
    alone = [detector.detect([frame])[0] for frame in frames]
    assert [r.extras.batch_size for r in together] == [batch_size, batch_size]
    for a, b in zip(together, alone, strict=True):
        assert a.frame is b.frame
        strong_a, strong_b = a.detections[a.detections.scores > 0.5], b.detections[b.detections.scores > 0.5]
        assert counts(strong_a) == counts(strong_b)
        order_a, order_b = np.argsort(strong_a.xyxy[:, 0]), np.argsort(strong_b.xyxy[:, 0])
        assert iou(strong_a.xyxy[order_a], strong_b.xyxy[order_b]).min() >= 0.999


def test_yolov8_raw_head_decodes_like_the_exported_graph(media, yolov8: OnnxYoloDetector) -> None:
    """Our DFL decode of the cut graph equals the export's own decode, candidate for candidate."""
    import onnx

    from detectors.onnx_graph import dequantize_dynamic_int8

    # fp32 weights on both sides: the int8 export also quantises its DFL conv, which we decode exactly
    proto = dequantize_dynamic_int8(onnx.load(str(media.path(YOLOV8))))
    assert proto is not None
    raw = yolov8_raw_head(proto)
    assert raw is not None
    blob, _ = yolov8._preprocess([media.frame("images/people/bus.jpg")])
    kept = np.arange(80)
    full = _Yolov8Decoder(kept, 0.25).decode(open_session(proto).run(blob), 0, (640, 640))
    ours = _Yolov8RawDecoder(kept, 0.25).decode(open_session(raw).run(blob), 0, (640, 640))
    order_full = np.lexsort((full.xyxy[:, 0], full.scores.round(3)))
    order_ours = np.lexsort((ours.xyxy[:, 0], ours.scores.round(3)))
    assert len(full.scores) == len(ours.scores) > 4
    np.testing.assert_allclose(ours.xyxy[order_ours], full.xyxy[order_full], atol=0.05)
    np.testing.assert_allclose(ours.scores[order_ours], full.scores[order_full], atol=1e-4)


def test_dynamic_yolox_graph_matches_the_original_at_native_size(media, yolox) -> None:
    import onnx

    proto = onnx.load(str(media.path(YOLOX)))
    blob, _ = yolox._preprocess([media.frame("images/people/zidane.jpg")])
    original = open_session(proto).run(blob)[0]
    dynamic = open_session(make_input_dynamic(proto, spatial=True)).run(blob)[0]
    np.testing.assert_allclose(dynamic, original, atol=1e-4)


def test_openvino_runtime_gives_the_same_people(media) -> None:
    pytest.importorskip("openvino", reason="openvino is an optional runtime")
    detector = build(media, YOLOX, runtime="openvino")
    (result,) = detector.detect([media.frame("images/people/bus.jpg")])
    assert counts(result.detections)["person"] == 4


@pytest.mark.parametrize("centre", [True, False])
@pytest.mark.parametrize("source_hw", [(1080, 810), (360, 640), (640, 640), (100, 1000)])
def test_letterbox_maps_boxes_back_to_the_source(centre: bool, source_hw: tuple[int, int]) -> None:
    image = np.zeros((*source_hw, 3), np.uint8)
    canvas, transform = letterbox(image, (384, 640), centre=centre)
    assert canvas.shape == (384, 640, 3)
    h, w = source_hw
    source_box = np.array([[0.1 * w, 0.2 * h, 0.6 * w, 0.9 * h]], np.float32)
    in_model = source_box * transform.scale + [transform.pad_x, transform.pad_y] * 2
    np.testing.assert_allclose(transform.to_source(in_model), source_box, rtol=1e-4, atol=1e-3)
    if not centre:
        assert transform.pad_x == transform.pad_y == 0


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "kept"),
    [
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0, 0], [0]),  # same class, overlapping
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.8, 0.9], [0, 0], [1]),  # best score wins
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0, 1], [0, 1]),  # different classes never suppress
        ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [0, 0], [0, 1]),  # disjoint
        ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.9, 0.8], [0, 0], [0, 1]),  # IoU 1/3 is under 0.45
    ],
)
def test_nms_is_class_aware(boxes, scores, classes, kept) -> None:
    keep = nms(np.array(boxes, np.float32), np.array(scores, np.float32), np.array(classes), 0.45)
    assert keep.tolist() == kept


def test_file_that_is_not_a_yolo_model_is_a_clear_error(media, tmp_path: Path) -> None:
    """The MCNN graph has a 4-d output: neither YOLOX nor YOLOv8, so auto-detection refuses it."""
    import onnx

    from detectors.density import load_mcnn_weights, mcnn_onnx

    path = tmp_path / "mcnn.onnx"
    onnx.save(mcnn_onnx(load_mcnn_weights(media.path("weights/mcnn_shtechB_110.h5"))), str(path))
    with pytest.raises(ValueError, match="cannot tell the architecture"):
        build_detector(parse_detector_config({"kind": "onnx", "model": str(path)}))


def test_wide_input_matches_square_on_a_16_9_camera(media) -> None:
    """384×640 holds a 640×360 frame at the same scale as 640×640 does: same people, 40 % less compute."""
    frame = next(f for f in media.video("video/crosswalk_pedestrians.mp4", every_s=1.0) if f.captured_at >= 8)
    people = {"person": "person"}
    square = build(media, YOLOV8, dequantize=True, classes=people).detect([frame])[0].detections
    wide = (
        build(media, YOLOV8, dequantize=True, classes=people, input_size=[384, 640])
        .detect([frame])[0]
        .detections
    )
    strong = square[square.scores > 0.5]
    assert len(strong) >= 4
    for box in strong.xyxy:
        assert iou(np.repeat(box[None], len(wide), axis=0), wide.xyxy).max() > 0.9
