"""MCNN crowd density (Zhang et al. 2016) from the svishwa/crowdcount-mcnn HDF5 weights, without torch
(CSRNet, for packed heads, from `detectors.density_csrnet`; the detector runs either).

The network is small and fixed: three columns (9/7/5-pixel first kernels, each conv followed by ReLU, two
2×2 max-pools) concatenated and fused by a 1×1 conv (+ReLU) into a density map at 1/4 resolution whose sum
is the head count. We rebuild it as an ONNX graph in memory from the HDF5 tensors and run it in onnxruntime:
no torch import, one fused CPU graph, and any input size (height and width are symbolic).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from detectors.base import register
from detectors.config import DensityConfig
from detectors.density_csrnet import csrnet_onnx, density_model, load_csrnet_weights, rgb_input
from detectors.inference_session import Session, open_session
from detectors.types import DetectionExtras, DetectionResult, Detections
from ingest.types import Frame

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

# (column, conv layer indices); a max-pool follows layers 0 and 2 of every column, as in the reference.
_COLUMNS = ("branch1", "branch2", "branch3")
_CONV_LAYERS = (0, 2, 4, 5)
_POOL_AFTER = frozenset({0, 2})


def load_mcnn_weights(path: Path) -> dict[str, np.ndarray]:
    """Every `DME.*` tensor from the HDF5 file, as float32 arrays keyed by their dataset name."""
    import h5py

    weights: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(
            lambda name, item: (
                weights.__setitem__(name, np.asarray(item, dtype=np.float32))
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    missing = [
        f"DME.{col}.{i}.conv.{part}" for col in _COLUMNS for i in _CONV_LAYERS for part in ("weight", "bias")
    ]
    missing += ["DME.fuse.0.conv.weight", "DME.fuse.0.conv.bias"]
    missing = [name for name in missing if name not in weights]
    if missing:
        raise ValueError(f"{path} is not an MCNN checkpoint: missing {missing[:3]}…")
    return weights


def mcnn_onnx(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The MCNN graph: input `image` [N, 1, H, W] grey 0–255, output `density` [N, 1, H/4, W/4]."""
    from onnx import helper, numpy_helper

    nodes, inits = [], []

    def conv_relu(source: str, prefix: str) -> str:
        weight, bias = weights[f"{prefix}.conv.weight"], weights[f"{prefix}.conv.bias"]
        inits.extend(
            [numpy_helper.from_array(weight, f"{prefix}.w"), numpy_helper.from_array(bias, f"{prefix}.b")]
        )
        pad = weight.shape[-1] // 2
        nodes.append(
            helper.make_node(
                "Conv", [source, f"{prefix}.w", f"{prefix}.b"], [f"{prefix}.conv"], pads=[pad] * 4
            )
        )
        nodes.append(helper.make_node("Relu", [f"{prefix}.conv"], [f"{prefix}.relu"]))
        return f"{prefix}.relu"

    column_outputs = []
    for column in _COLUMNS:
        tensor = "image"
        for index in _CONV_LAYERS:
            tensor = conv_relu(tensor, f"DME.{column}.{index}")
            if index in _POOL_AFTER:
                pooled = f"DME.{column}.{index}.pool"
                nodes.append(
                    helper.make_node("MaxPool", [tensor], [pooled], kernel_shape=[2, 2], strides=[2, 2])
                )
                tensor = pooled
        column_outputs.append(tensor)
    nodes.append(helper.make_node("Concat", column_outputs, ["columns"], axis=1))
    fused = conv_relu("columns", "DME.fuse.0")
    return density_model(nodes, inits, fused, "mcnn", channels=1, stride=4)


def grey_input(image: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """BGR frame → float32 grey, resized by `scale` and trimmed to multiples of 4 (two 2×2 pools)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    height, width = grey.shape
    new_h, new_w = max(4, int(height * scale) // 4 * 4), max(4, int(width * scale) // 4 * 4)
    if (new_h, new_w) != (height, width):
        grey = cv2.resize(
            grey, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
    return grey.astype(np.float32)


def shrink_density(density: np.ndarray, width: int) -> np.ndarray:
    """A small copy of the map for overlays and zone sums; the total (the count) is preserved."""
    height = max(1, round(density.shape[0] * width / density.shape[1]))
    if density.shape[1] <= width:
        return density.astype(np.float32)
    small = cv2.resize(density, (width, height), interpolation=cv2.INTER_AREA)
    total = float(small.sum())
    return (small * (float(density.sum()) / total) if total > 0 else small).astype(np.float32)


def density_arch(config: DensityConfig) -> str:
    """The network a weights file holds: as configured, or by its suffix (.npz: CSRNet, else MCNN)."""
    if config.arch != "auto":
        return config.arch
    return "csrnet" if config.model.suffix.lower() == ".npz" else "mcnn"


@register("density")
class DensityDetector:
    """Crowd count and density map per frame; no boxes. `extras.count` and `extras.density`."""

    class_names: tuple[str, ...] = ()

    def __init__(self, config: DensityConfig) -> None:
        if not config.model.is_file():
            raise FileNotFoundError(f"density detector: weights file {config.model} not found")
        self.config = config
        self.name = config.label
        self.arch = density_arch(config)
        if self.arch == "csrnet":
            graph = csrnet_onnx(load_csrnet_weights(config.model))
        else:
            graph = mcnn_onnx(load_mcnn_weights(config.model))
        self._session: Session | None = open_session(graph, threads=config.threads)

    def _input(self, image: np.ndarray) -> np.ndarray:
        """One frame as the model takes it: [3, H, W] RGB for CSRNet, [1, H, W] grey for MCNN."""
        if self.arch == "csrnet":
            return rgb_input(image, self.config.input_scale)
        return grey_input(image, self.config.input_scale)[None]

    def estimate(self, image: np.ndarray) -> np.ndarray:
        """Density map (1/4 of the scaled input for MCNN, 1/8 for CSRNet) for one BGR or grey image."""
        if self._session is None:
            raise RuntimeError(f"{self.name} is closed")
        return self._session.run(self._input(image)[None])[0][0, 0]

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        """Frames of the same size share one call; the map's sum is the count."""
        results: dict[int, DetectionResult] = {}
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, frame in enumerate(frames):
            by_shape.setdefault(frame.image.shape, []).append(index)
        for indices in by_shape.values():
            if self._session is None:
                raise RuntimeError(f"{self.name} is closed")
            start = time.perf_counter()
            batch = np.stack([self._input(frames[i].image) for i in indices])
            maps = self._session.run(batch)[0][:, 0]
            elapsed_ms = (time.perf_counter() - start) * 1000
            for i, density in zip(indices, maps, strict=True):
                extras = DetectionExtras(
                    count=float(density.sum()), density=shrink_density(density, self.config.map_width)
                )
                results[i] = DetectionResult(frames[i], Detections.empty(), self.name, elapsed_ms, extras)
        return [results[i] for i in range(len(frames))]

    def close(self) -> None:
        self._session = None
