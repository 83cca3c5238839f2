"""Inference sessions for an in-memory ONNX model: onnxruntime (default) or OpenVINO (optional extra).

Both expose the same tiny surface so the YOLO and density backends never care which one runs the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    import onnx

Runtime = Literal["onnxruntime", "openvino"]


class Session(Protocol):
    """A loaded graph with one image input."""

    input_shape: tuple[int | None, ...]  # None where the dimension is symbolic

    def run(self, batch: np.ndarray) -> list[np.ndarray]: ...


class OnnxRuntimeSession:
    def __init__(self, model: onnx.ModelProto, *, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # A failing run reaches us as an exception, logged once with the detector's name; onnxruntime's own
        # log line would be a second copy without context (and a red one for an expected probe failure).
        options.log_severity_level = 4
        # Spinning worker threads burn a core between calls; on a small box that core decodes video.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        meta = self._session.get_inputs()[0]
        self._input_name = meta.name
        self.input_shape = tuple(dim if isinstance(dim, int) else None for dim in meta.shape)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return list(self._session.run(None, {self._input_name: batch}))


class OpenVinoSession:
    def __init__(self, model: onnx.ModelProto, *, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        graph = core.read_model(model.SerializeToString(), b"")
        self.input_shape = tuple(
            dim.get_length() if dim.is_static else None for dim in graph.inputs[0].get_partial_shape()
        )
        self._compiled = core.compile_model(
            graph, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
        )
        self._request = self._compiled.create_infer_request()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        results = self._request.infer({0: batch})
        return [np.asarray(results[output]) for output in self._compiled.outputs]


def open_session(model: onnx.ModelProto, *, runtime: Runtime = "onnxruntime", threads: int = 2) -> Session:
    """Load `model` with the chosen runtime (imported here, not at module import)."""
    if runtime == "openvino":
        return OpenVinoSession(model, threads=threads)
    return OnnxRuntimeSession(model, threads=threads)
