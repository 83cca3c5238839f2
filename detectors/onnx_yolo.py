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
from detectors.model_fit import MissingWeights, WeightsError, check_class_count
from detectors.onnx_graph import dequantize_dynamic_int8, make_input_dynamic, yolov8_raw_head
from detectors.types import DetectionExtras, DetectionResult, Detections
from detectors.yolo_decoders import (
    Candidates,
    DecodedDecoder,
    Decoder,
    Yolov8Decoder,
    Yolov8RawDecoder,
    YoloxDecoder,
    grid_cells,
)
from ingest.types import Frame

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

Arch = Literal["yolox", "yolov5", "yolov8"]
_MAX_CANDIDATES = 3000
_Yolov8Decoder, _Yolov8RawDecoder = Yolov8Decoder, Yolov8RawDecoder  # their names before yolo_decoders.py


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


def detect_arch(
    model: onnx.ModelProto, num_classes: int, path: object = "model", names_source: str = "config"
) -> Arch:
    """YOLOv8 if the graph has an ultralytics Detect head or a [B, 4+nc, N] output; for [B, N, 5+nc],
    YOLOv5/v7 (decoded boxes) when N is three anchors per grid cell of the input or the file carries
    YOLOv5's `stride` metadata, else YOLOX (one row per cell).

    Neither: when the output is still a YOLO-like [B, a, b], the class count is what is wrong (a vendor
    file without names in its metadata falls back to COCO's 80), and the error says how many it has."""
    if yolov8_raw_head(model) is not None:
        return "yolov8"
    dims = _static_dims(model.graph.output[0])
    if len(dims) == 3 and dims[1] == 4 + num_classes:
        return "yolov8"
    if len(dims) == 3 and dims[2] == 5 + num_classes:
        size = _static_dims(model.graph.input[0])[2:]
        anchors = len(size) == 2 and size[0] and size[1] and dims[1] == 3 * grid_cells((size[0], size[1]))
        stride = any(prop.key == "stride" for prop in model.metadata_props)
        return "yolov5" if anchors or stride else "yolox"
    if len(dims) == 3 and dims[1] and dims[2]:
        found = dims[1] - 4 if dims[1] < dims[2] else dims[2] - 5
        if found >= 1:
            check_class_count(path, found, [""] * num_classes, names_source)
    raise WeightsError("weights_outputs", path=path, shape=list(dims), classes=num_classes)


def _read(path: object) -> onnx.ModelProto:
    """The ONNX model at `path`; WeightsError when the file is something else (or truncated)."""
    import onnx

    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf raises its own DecodeError, or RuntimeWarning-ish errors
        raise WeightsError("weights_unreadable", path=path, format="ONNX", reason=exc) from exc
    if not proto.graph.input or not proto.graph.output:
        raise WeightsError("weights_unreadable", path=path, format="ONNX", reason="no graph inside")
    return proto


def output_classes(arch: Arch, graph: str, outputs: Sequence[np.ndarray]) -> int | None:
    """How many classes a probe run's outputs hold; None when the layout is not one we decode."""
    if graph == "raw_head":
        return int(outputs[1].shape[1]) if len(outputs) >= 2 and outputs[1].ndim == 4 else None
    out = outputs[0]
    if out.ndim != 3:
        return None
    return int(out.shape[1]) - 4 if arch == "yolov8" else int(out.shape[2]) - 5


@register("onnx")
class OnnxYoloDetector:
    """A YOLO ONNX model on CPU (onnxruntime, or OpenVINO when configured), batched across cameras."""

    def __init__(self, config: OnnxConfig) -> None:
        if not config.model.is_file():
            raise MissingWeights(config.model)
        self.config = config
        self.name = config.label
        proto = _read(config.model)
        metadata_names = names_from_metadata(proto)
        model_names = config.class_names or metadata_names or COCO_CLASSES
        self._names_source = "config" if config.class_names else "metadata" if metadata_names else "coco"
        self.mapper = ClassMapper(model_names, config.classes)
        self.class_names = self.mapper.class_names
        if config.dequantize:
            fp32 = dequantize_dynamic_int8(proto)
            if fp32 is None:
                log.info("onnx detector %s: nothing to dequantize, using the model as is", self.name)
            proto = fp32 or proto
        self.arch: Arch = (
            detect_arch(proto, len(model_names), config.model, self._names_source)
            if config.arch == "auto"
            else config.arch
        )
        dims = _static_dims(proto.graph.input[0])
        native = (dims[2], dims[3]) if len(dims) == 4 and dims[2] and dims[3] else None
        self.input_hw: tuple[int, int] = config.input_size or native or (640, 640)
        self.graph: str = "original"
        try:
            session, self.batched = self._load(proto, native)
        except WeightsError:
            raise
        except Exception as exc:  # onnxruntime/OpenVINO refusing the graph: say which file and why
            raise WeightsError("weights_failed_load", path=config.model, reason=exc) from exc
        self._check_fit(session, len(model_names))
        self._session: Session | None = session  # None once closed
        kept, conf = self.mapper.kept_model_ids, config.conf
        self._decoder: Decoder
        if self.arch == "yolox":
            self._decoder = YoloxDecoder(kept, conf)
        elif self.arch == "yolov5":
            self._decoder = DecodedDecoder(kept, conf)
        elif self.graph == "raw_head":
            self._decoder = Yolov8RawDecoder(kept, conf)
        else:
            self._decoder = Yolov8Decoder(kept, conf)
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
                raise WeightsError("weights_fixed_size", path=self.config.model, native=native)
        if want_batch or resized:
            try:
                session = self._open(make_input_dynamic(proto, spatial=resized))
                self._check_output(session)
            except Exception as exc:  # a graph the rewrite cannot handle: fall back, but say why
                if resized:
                    raise WeightsError("weights_fixed_size", path=self.config.model, native=native) from exc
                log.info("onnx detector %s: no dynamic batch (%s); one frame per call", self.name, exc)
            else:
                self.graph = "dynamic"
                return session, want_batch and self._batch_consistent(session)
        session = self._open(proto)
        return session, session.input_shape[0] is None and want_batch

    def _probe(self, batch: int) -> np.ndarray:
        return np.random.default_rng(0).uniform(0, 1, size=(batch, 3, *self.input_hw)).astype(np.float32)

    def _check_output(self, session: Session) -> None:
        """One run at the target size; the output must have one row per grid cell (YOLOX) or per anchor of
        each cell (YOLOv5/v7, three)."""
        output = session.run(self._probe(1))[0]
        rows = self._rows()
        if rows is not None and (output.ndim != 3 or output.shape[1] != rows):
            raise ValueError(f"output shape {output.shape} does not have {rows} rows")

    def _rows(self) -> int | None:
        """Output rows a YOLOX (one per grid cell) or YOLOv5/v7 graph (three) has at the input size."""
        if self.arch not in ("yolox", "yolov5"):
            return None
        return grid_cells(self.input_hw) * (3 if self.arch == "yolov5" else 1)

    def _check_fit(self, session: Session, names: int) -> None:
        """One probe run: the graph must run at the input size and hold as many classes as names."""
        try:
            outputs = session.run(self._probe(1))
        except Exception as exc:
            raise WeightsError("weights_failed_run", path=self.config.model, reason=exc) from exc
        found = output_classes(self.arch, self.graph, outputs)
        if found is None:
            shape = [list(o.shape) for o in outputs]
            raise WeightsError("weights_outputs", path=self.config.model, shape=shape, classes=names)
        check_class_count(self.config.model, found, self.mapper.model_names, self._names_source)
        rows = self._rows()
        if rows is not None and outputs[0].shape[1] != rows:
            raise WeightsError(
                "weights_rows",
                path=self.config.model,
                arch=self.arch,
                rows=outputs[0].shape[1],
                expected=rows,
            )

    def _batch_consistent(self, session: Session) -> bool:
        """Whether a batch of two gives what two single runs give (False when a batch does not run at all:
        some exports keep a batch of 1 in constants the rewrite cannot reach).

        Not so for dynamically int8-quantised graphs: activation scales are computed over the whole batch,
        so one camera's boxes would depend on the other cameras in it. Those run one frame per call
        (or set `dequantize: true`, which makes them batchable and, on most CPUs, faster).
        """
        pair = self._probe(2)
        try:
            together = session.run(pair)
        except Exception as exc:
            log.info("onnx detector %s: a batch of 2 fails (%s); one frame per call", self.name, exc)
            return False
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
        centre = self.arch != "yolox"
        transforms = [
            letterbox(frame.image, self.input_hw, centre=centre, out=canvas[i])[1]
            for i, frame in enumerate(frames)
        ]
        if self.arch != "yolox":  # ultralytics and YOLOv5/v7: RGB, 0–1
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
            cand = Candidates(cand.xyxy[top], cand.scores[top], cand.class_ids[top])
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
