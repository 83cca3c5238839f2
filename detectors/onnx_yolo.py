"""YOLOX and YOLOv8 (ultralytics export) ONNX models run directly, with our own pre- and post-processing.

Why not let a library do it: we batch frames from many cameras into one call, pick the input size per site
(e.g. 384×640 for 16:9 cameras instead of a 640×640 square that is 44 % padding), and drop unwanted
classes before NMS. At load the graph is rewritten in memory where possible (see `detectors.onnx_graph`):
ultralytics exports are cut before their fixed 640×640 anchor decode, YOLOX gets a symbolic batch and size.
Each rewrite is checked numerically once; if it fails we fall back to a per-frame loop at the native size.
"""

from __future__ import annotations

import ast
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from detectors.base import register
from detectors.boxes import LetterboxTransform, letterbox, nms
from detectors.classes import COCO_CLASSES, ClassMapper
from detectors.config import OnnxConfig
from detectors.inference_session import Session, open_session
from detectors.onnx_graph import dequantize_dynamic_int8, make_input_dynamic, yolov8_raw_head
from detectors.types import DetectionExtras, DetectionResult, Detections
from ingest.types import Frame

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

Arch = Literal["yolox", "yolov8"]
_STRIDES = (8, 16, 32)
_MAX_CANDIDATES = 3000


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p))) if p < 1.0 else float("inf")


def _static_dims(value_info: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    return tuple(
        dim.dim_value if dim.HasField("dim_value") else None for dim in value_info.type.tensor_type.shape.dim
    )


def names_from_metadata(model: onnx.ModelProto) -> tuple[str, ...] | None:
    """Class names an ultralytics export stores as `names: "{0: 'person', …}"`; None when absent."""
    meta = {prop.key: prop.value for prop in model.metadata_props}
    try:
        names = ast.literal_eval(meta["names"])
    except (KeyError, ValueError, SyntaxError):
        return None
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        return tuple(str(names[k]) for k in sorted(names))
    if isinstance(names, list | tuple):
        return tuple(str(n) for n in names)
    return None


def detect_arch(model: onnx.ModelProto, num_classes: int) -> Arch:
    """YOLOv8 if the graph has an ultralytics Detect head or a [B, 4+nc, N] output; YOLOX if [B, N, 5+nc]."""
    if yolov8_raw_head(model) is not None:
        return "yolov8"
    dims = _static_dims(model.graph.output[0])
    if len(dims) == 3 and dims[1] == 4 + num_classes:
        return "yolov8"
    if len(dims) == 3 and dims[2] == 5 + num_classes:
        return "yolox"
    raise ValueError(
        f"cannot tell the architecture from output shape {dims} with {num_classes} classes; set arch"
    )


class _Candidates:
    """Per-image boxes (xyxy in model-input pixels), scores and model class ids, before NMS."""

    __slots__ = ("class_ids", "scores", "xyxy")

    def __init__(self, xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> None:
        self.xyxy, self.scores, self.class_ids = xyxy, scores, class_ids


class _YoloxDecoder:
    """Output [B, N, 5+nc]: raw xy offsets and log wh per grid cell, sigmoid objectness and class scores."""

    def __init__(self, kept: np.ndarray, conf: float) -> None:
        self.kept, self.conf = kept, conf
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _grid(self, input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        if input_hw not in self._grids:
            grids, strides = [], []
            for stride in _STRIDES:
                h, w = input_hw[0] // stride, input_hw[1] // stride
                ys, xs = np.mgrid[0:h, 0:w]
                grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
                strides.append(np.full((h * w, 1), stride))
            self._grids[input_hw] = (
                np.concatenate(grids).astype(np.float32),
                np.concatenate(strides).astype(np.float32),
            )
        return self._grids[input_hw]

    def decode(self, outputs: list[np.ndarray], index: int, input_hw: tuple[int, int]) -> _Candidates:
        out = outputs[0][index]
        grid, stride = self._grid(input_hw)
        if len(out) != len(grid):
            raise ValueError(f"YOLOX output has {len(out)} cells, expected {len(grid)} for input {input_hw}")
        scores = out[:, 4:5] * out[:, 5 + self.kept]
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(scores)), best]
        cand = np.flatnonzero(best_score >= self.conf)
        xy = (out[cand, :2] + grid[cand]) * stride[cand]
        wh = np.exp(out[cand, 2:4]) * stride[cand]
        return _Candidates(
            np.concatenate([xy - wh / 2, xy + wh / 2], axis=1), best_score[cand], self.kept[best[cand]]
        )


class _Yolov8Decoder:
    """Full ultralytics output [B, 4+nc, N]: centre-size boxes in input pixels, sigmoid class scores."""

    def __init__(self, kept: np.ndarray, conf: float) -> None:
        self.kept, self.conf = kept, conf

    def decode(self, outputs: list[np.ndarray], index: int, input_hw: tuple[int, int]) -> _Candidates:
        out = outputs[0][index]
        scores = out[4 + self.kept]
        best = scores.argmax(axis=0)
        best_score = scores[best, np.arange(scores.shape[1])]
        cand = np.flatnonzero(best_score >= self.conf)
        cx, cy, w, h = out[:4, cand]
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        return _Candidates(xyxy, best_score[cand], self.kept[best[cand]])


class _Yolov8RawDecoder:
    """Raw ultralytics head: per stride, DFL box logits [B, 4·reg_max, h, w] and class logits [B, nc, h, w].

    Classes are thresholded on logits first, so the DFL softmax only runs for the few candidate cells.
    """

    def __init__(self, kept: np.ndarray, conf: float) -> None:
        self.kept, self.logit_conf = kept, _logit(conf)

    def decode(self, outputs: list[np.ndarray], index: int, input_hw: tuple[int, int]) -> _Candidates:
        boxes, scores, ids = [], [], []
        for box_map, cls_map in zip(outputs[0::2], outputs[1::2], strict=True):
            _, _, h, w = cls_map.shape
            stride = input_hw[0] / h
            logits = cls_map[index, self.kept].reshape(len(self.kept), -1)
            best = logits.argmax(axis=0)
            best_logit = logits[best, np.arange(logits.shape[1])]
            cand = np.flatnonzero(best_logit >= self.logit_conf)
            if not cand.size:
                continue
            reg_max = box_map.shape[1] // 4
            dist = box_map[index].reshape(4, reg_max, -1)[:, :, cand]
            dist = np.exp(dist - dist.max(axis=1, keepdims=True))
            dist = (dist * np.arange(reg_max, dtype=np.float32)[None, :, None]).sum(axis=1) / dist.sum(axis=1)
            ax, ay = cand % w + 0.5, cand // w + 0.5
            boxes.append(np.stack([ax - dist[0], ay - dist[1], ax + dist[2], ay + dist[3]], axis=1) * stride)
            scores.append(1.0 / (1.0 + np.exp(-best_logit[cand])))
            ids.append(self.kept[best[cand]])
        if not boxes:
            return _Candidates(np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64))
        return _Candidates(np.concatenate(boxes), np.concatenate(scores), np.concatenate(ids))


@register("onnx")
class OnnxYoloDetector:
    """A YOLO ONNX model on CPU (onnxruntime, or OpenVINO when configured), batched across cameras."""

    def __init__(self, config: OnnxConfig) -> None:
        import onnx

        if not config.model.is_file():
            raise FileNotFoundError(f"onnx detector: model file {config.model} not found")
        self.config = config
        self.name = config.label
        proto = onnx.load(str(config.model))
        model_names = config.class_names or names_from_metadata(proto) or COCO_CLASSES
        self.mapper = ClassMapper(model_names, config.classes)
        self.class_names = self.mapper.class_names
        if config.dequantize:
            fp32 = dequantize_dynamic_int8(proto)
            if fp32 is None:
                log.info("onnx detector %s: nothing to dequantize, using the model as is", self.name)
            proto = fp32 or proto
        self.arch: Arch = detect_arch(proto, len(model_names)) if config.arch == "auto" else config.arch
        dims = _static_dims(proto.graph.input[0])
        native = (dims[2], dims[3]) if len(dims) == 4 and dims[2] and dims[3] else None
        self.input_hw: tuple[int, int] = config.input_size or native or (640, 640)
        self.graph: str = "original"
        session, self.batched = self._load(proto, native)
        self._session: Session | None = session  # None once closed
        kept, conf = self.mapper.kept_model_ids, config.conf
        if self.arch == "yolox":
            self._decoder: _YoloxDecoder | _Yolov8Decoder | _Yolov8RawDecoder = _YoloxDecoder(kept, conf)
        elif self.graph == "raw_head":
            self._decoder = _Yolov8RawDecoder(kept, conf)
        else:
            self._decoder = _Yolov8Decoder(kept, conf)
        self._buffers: dict[int, np.ndarray] = {}
        log.info(
            "onnx detector %s: %s, graph %s, input %s, batched %s, runtime %s",
            self.name,
            self.arch,
            self.graph,
            self.input_hw,
            self.batched,
            config.runtime,
        )

    # -- loading -----------------------------------------------------------------------------------------

    def _open(self, proto: onnx.ModelProto) -> Session:
        return open_session(proto, runtime=self.config.runtime, threads=self.config.threads)

    def _load(self, proto: onnx.ModelProto, native: tuple[int, int] | None) -> tuple[Session, bool]:
        """The session to run and whether it takes a whole batch in one call."""
        want_batch = self.config.batching == "auto"
        resized = native is not None and native != self.input_hw
        if self.arch == "yolov8":
            raw = yolov8_raw_head(proto)
            if raw is not None:
                self.graph = "raw_head"
                session = self._open(raw)
                return session, want_batch and self._batch_consistent(session)
            if resized:
                raise ValueError(f"{self.name}: this YOLOv8 graph only runs at {native}; drop input_size")
        if want_batch or resized:
            try:
                session = self._open(make_input_dynamic(proto, spatial=resized))
                self._check_output(session)
            except Exception as exc:  # a graph the rewrite cannot handle: fall back, but say why
                if resized:
                    raise ValueError(f"{self.name}: cannot run this graph at {self.input_hw}: {exc}") from exc
                log.info("onnx detector %s: no dynamic batch (%s); one frame per call", self.name, exc)
            else:
                self.graph = "dynamic"
                return session, want_batch and self._batch_consistent(session)
        session = self._open(proto)
        return session, session.input_shape[0] is None and want_batch

    def _probe(self, batch: int) -> np.ndarray:
        return np.random.default_rng(0).uniform(0, 1, size=(batch, 3, *self.input_hw)).astype(np.float32)

    def _check_output(self, session: Session) -> None:
        """One run at the target size; for YOLOX the output must have one row per grid cell."""
        output = session.run(self._probe(1))[0]
        if self.arch == "yolox":
            cells = sum((self.input_hw[0] // s) * (self.input_hw[1] // s) for s in _STRIDES)
            if output.ndim != 3 or output.shape[1] != cells:
                raise ValueError(f"output shape {output.shape} does not have {cells} grid cells")

    def _batch_consistent(self, session: Session) -> bool:
        """Whether a batch of two gives what two single runs give.

        Not so for dynamically int8-quantised graphs: activation scales are computed over the whole batch,
        so one camera's boxes would depend on the other cameras in it. Those run one frame per call
        (or set `dequantize: true`, which makes them batchable and, on most CPUs, faster).
        """
        pair = self._probe(2)
        together = session.run(pair)
        alone = [session.run(pair[i : i + 1]) for i in range(2)]
        consistent = all(
            np.allclose(together[k][i], alone[i][k][0], rtol=1e-3, atol=1e-3)
            for i in range(2)
            for k in range(len(together))
        )
        if not consistent:
            log.info("onnx detector %s: batch results differ from single runs; one frame per call", self.name)
        return consistent

    # -- inference ---------------------------------------------------------------------------------------

    def _preprocess(self, frames: Sequence[Frame]) -> tuple[np.ndarray, list[LetterboxTransform]]:
        height, width = self.input_hw
        canvas = self._buffers.get(len(frames))
        if canvas is None:
            canvas = self._buffers[len(frames)] = np.empty((len(frames), height, width, 3), dtype=np.uint8)
        centre = self.arch == "yolov8"
        transforms = [
            letterbox(frame.image, self.input_hw, centre=centre, out=canvas[i])[1]
            for i, frame in enumerate(frames)
        ]
        if self.arch == "yolov8":  # RGB, 0–1
            blob = canvas[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1 / 255)
        else:  # YOLOX: BGR, 0–255
            blob = canvas.transpose(0, 3, 1, 2).astype(np.float32)
        return np.ascontiguousarray(blob), transforms

    def _postprocess(
        self, outputs: list[np.ndarray], index: int, transform: LetterboxTransform
    ) -> Detections:
        cand = self._decoder.decode(outputs, index, self.input_hw)
        if len(cand.scores) > _MAX_CANDIDATES:
            top = np.argpartition(-cand.scores, _MAX_CANDIDATES)[:_MAX_CANDIDATES]
            cand = _Candidates(cand.xyxy[top], cand.scores[top], cand.class_ids[top])
        keep = nms(cand.xyxy, cand.scores, cand.class_ids, self.config.iou)[: self.config.max_detections]
        return self.mapper.detections(
            transform.to_source(cand.xyxy[keep]), cand.scores[keep], cand.class_ids[keep]
        )

    def _run(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        if self._session is None:
            raise RuntimeError(f"{self.name} is closed")
        start = time.perf_counter()
        blob, transforms = self._preprocess(frames)
        outputs = self._session.run(blob)
        detections = [self._postprocess(outputs, i, t) for i, t in enumerate(transforms)]
        elapsed_ms = (time.perf_counter() - start) * 1000
        extras = DetectionExtras(batch_size=len(frames))
        return [
            DetectionResult(frame=f, detections=d, model=self.name, inference_ms=elapsed_ms, extras=extras)
            for f, d in zip(frames, detections, strict=True)
        ]

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        """One model call for the whole batch when the graph allows it, else one per frame."""
        if not frames:
            return []
        if self.batched:
            return self._run(frames)
        return [result for frame in frames for result in self._run([frame])]

    def close(self) -> None:
        self._session = None
        self._buffers.clear()
