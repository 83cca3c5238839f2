"""ONNX graph rewrites done in memory at load time, so users keep their own export files untouched.

- `dequantize_dynamic_int8`: a dynamically int8-quantised export (ConvInteger + DynamicQuantizeLinear) back to
  fp32 Conv with dequantised weights; ConvInteger has no fast kernel on many CPUs, fp32 Conv does.
- `make_input_dynamic`: symbolic batch (and optionally height/width), patching Reshape targets that hard-code
  batch 1 to 0 ("copy this dimension"), so frames from several cameras run in one call.
- `yolov8_raw_head`: cut an ultralytics YOLOv8/YOLO11 export before its fixed-size anchor decode, leaving the
  per-stride box (DFL) and class outputs; decoding them ourselves lets one file run at any input size.

Every function returns a new model or None when the graph does not have the expected shape; callers verify
numerically before trusting a rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

_RAW_HEAD = re.compile(r"^/model\.(\d+)/cv([23])\.(\d+)/cv\2\.\3\.2/Conv_output_0$")


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnx

    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone


def _prune(graph: onnx.GraphProto) -> None:
    """Drop nodes and initializers that no graph output depends on."""
    live = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in live for name in node.output):
            kept.append(node)
            live.update(name for name in node.input if name)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [init for init in graph.initializer if init.name in live]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]


@dataclass(frozen=True, slots=True)
class _GraphIndex:
    """Initializers by name, each tensor's producing node and its consuming nodes."""

    inits: dict[str, onnx.TensorProto]
    producer: dict[str, onnx.NodeProto]
    consumers: dict[str, list[onnx.NodeProto]]

    @classmethod
    def of(cls, graph: onnx.GraphProto) -> _GraphIndex:
        consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        return cls(
            {init.name: init for init in graph.initializer},
            {name: node for node in graph.node for name in node.output},
            consumers,
        )

    def sole_consumer(self, name: str, op_type: str) -> onnx.NodeProto | None:
        """The one node reading `name`, if there is exactly one and it is an `op_type`."""
        after = self.consumers.get(name, [])
        return after[0] if len(after) == 1 and after[0].op_type == op_type else None


@dataclass(frozen=True, slots=True)
class _QuantizedConv:
    """`quantize_dynamic`'s pattern: DynamicQuantizeLinear → ConvInteger → Cast → Mul (by the scales)."""

    conv: onnx.NodeProto
    quantize: onnx.NodeProto
    cast: onnx.NodeProto
    scale_mul: onnx.NodeProto
    weight_scale: str  # the initializer holding the weight scale(s)


def _match_quantized_conv(node: onnx.NodeProto, index: _GraphIndex) -> _QuantizedConv | None:
    quantize = index.producer.get(node.input[0])
    if quantize is None or quantize.op_type != "DynamicQuantizeLinear":
        return None
    cast = index.sole_consumer(node.output[0], "Cast")
    scale_mul = None if cast is None else index.sole_consumer(cast.output[0], "Mul")
    if cast is None or scale_mul is None:
        return None
    scales_name = scale_mul.input[1] if scale_mul.input[0] == cast.output[0] else scale_mul.input[0]
    scales_node = index.producer.get(scales_name)
    weight_scales = [name for name in (scales_node.input if scales_node else ()) if name in index.inits]
    if node.input[1] not in index.inits or len(weight_scales) != 1:
        return None
    return _QuantizedConv(node, quantize, cast, scale_mul, weight_scales[0])


def _per_channel(values: np.ndarray) -> np.ndarray:
    """A per-output-channel vector shaped to broadcast over OIHW weights; anything else as it is."""
    return values.reshape(-1, 1, 1, 1) if np.ndim(values) == 1 else values


def _fp32_weight(q: _QuantizedConv, index: _GraphIndex) -> np.ndarray:
    from onnx import numpy_helper

    def tensor(name: str) -> np.ndarray:
        return numpy_helper.to_array(index.inits[name]).astype(np.float32)

    weight = tensor(q.conv.input[1])
    if len(q.conv.input) > 3 and q.conv.input[3]:  # the weight zero point
        weight = weight - _per_channel(tensor(q.conv.input[3]))
    return weight * _per_channel(tensor(q.weight_scale))


def _constant_bias(
    output: str, index: _GraphIndex, channels: int
) -> tuple[onnx.NodeProto, np.ndarray] | None:
    """The Add right after the rescale when it adds a constant (possibly reshaped) per-channel bias."""
    from onnx import numpy_helper

    add = index.sole_consumer(output, "Add")
    if add is None:
        return None
    other = add.input[1] if add.input[0] == output else add.input[0]
    bias = None
    if other in index.inits:
        bias = numpy_helper.to_array(index.inits[other])
    elif (
        (reshape := index.producer.get(other)) is not None
        and reshape.op_type == "Reshape"
        and reshape.input[0] in index.inits
    ):
        bias = numpy_helper.to_array(index.inits[reshape.input[0]])
    if bias is None or bias.size != channels:
        return None
    return add, bias


def _fp32_conv(
    q: _QuantizedConv, index: _GraphIndex, new_inits: list[onnx.TensorProto]
) -> tuple[onnx.NodeProto, list[onnx.NodeProto]]:
    """The fp32 Conv replacing the pattern (its new initializers appended to `new_inits`), and the nodes
    it makes redundant besides the ConvInteger itself."""
    from onnx import helper, numpy_helper

    node = q.conv
    weight = _fp32_weight(q, index)
    weight_name = f"{node.name}_fp32_weight"
    new_inits.append(numpy_helper.from_array(weight, weight_name))
    inputs = [q.quantize.input[0], weight_name]
    output = q.scale_mul.output[0]
    dropped = [q.cast, q.scale_mul]
    bias = _constant_bias(output, index, weight.shape[0])
    if bias is not None:
        add, values = bias
        bias_name = f"{node.name}_fp32_bias"
        new_inits.append(numpy_helper.from_array(values.reshape(-1).astype(np.float32), bias_name))
        inputs.append(bias_name)
        output = add.output[0]
        dropped.append(add)
    attributes = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
    conv = helper.make_node("Conv", inputs, [output], name=f"{node.name}_fp32", **attributes)
    return conv, dropped


def dequantize_dynamic_int8(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """fp32 copy of a model quantised with onnxruntime's `quantize_dynamic`; None if it has no ConvInteger."""
    model = _copy(model)
    graph = model.graph
    index = _GraphIndex.of(graph)
    replaced: dict[int, onnx.NodeProto | None] = {}
    new_inits: list[onnx.TensorProto] = []
    for node in graph.node:
        if node.op_type != "ConvInteger":
            continue
        q = _match_quantized_conv(node, index)
        if q is None:
            return None
        conv, dropped = _fp32_conv(q, index, new_inits)
        replaced[id(node)] = conv
        replaced.update((id(other), None) for other in dropped)

    if not replaced:
        return None
    nodes = [replaced.get(id(node), node) for node in graph.node]
    del graph.node[:]
    graph.node.extend(node for node in nodes if node is not None)
    graph.initializer.extend(new_inits)
    _prune(graph)
    return model


def _set_symbolic(dims: Iterable[onnx.TensorShapeProto.Dimension], names: dict[int, str]) -> None:
    for index, dim in enumerate(dims):
        if index in names:
            dim.Clear()
            dim.dim_param = names[index]


def make_input_dynamic(model: onnx.ModelProto, *, spatial: bool = False) -> onnx.ModelProto:
    """Copy with a symbolic batch (and height/width if `spatial`) on the first input and every output.

    Reshape targets given as constants whose first entry is 1 become 0 (copy the incoming batch), except
    where the reshaped tensor is itself a constant (bias reshapes of quantised models).
    """
    from onnx import numpy_helper

    model = _copy(model)
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    constants = {
        node.output[0]: node for node in graph.node if node.op_type == "Constant" and len(node.output) == 1
    }
    input_names = {name for name in inits} | set(constants)
    in_dims = {0: "batch"} | ({2: "height", 3: "width"} if spatial else {})
    _set_symbolic(graph.input[0].type.tensor_type.shape.dim, in_dims)
    for output in graph.output:
        dims = output.type.tensor_type.shape.dim
        _set_symbolic(dims, {index: f"out{index}" for index in range(len(dims))} if spatial else {0: "batch"})
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[0] in input_names:
            continue
        target = node.input[1]
        if target in inits:
            shape = numpy_helper.to_array(inits[target])
            if shape.ndim == 1 and shape.size > 1 and shape[0] == 1:
                patched = shape.copy()
                patched[0] = 0
                inits[target].CopyFrom(numpy_helper.from_array(patched, target))
        elif target in constants:
            for attr in constants[target].attribute:
                if attr.name == "value":
                    shape = numpy_helper.to_array(attr.t)
                    if shape.ndim == 1 and shape.size > 1 and shape[0] == 1:
                        patched = shape.copy()
                        patched[0] = 0
                        attr.t.CopyFrom(numpy_helper.from_array(patched))
    del graph.value_info[:]
    return model


def yolov8_raw_head(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """Copy ending at the per-stride (box DFL logits, class logits) pairs, with a fully symbolic input.

    Outputs are ordered box0, cls0, box1, cls1, … from the finest stride. None if the graph is not an
    ultralytics Detect head (named `/model.N/cv2.i/cv2.i.2/Conv_output_0` and the cv3 twins).
    """
    from onnx import helper

    levels: dict[int, dict[str, str]] = {}
    for node in model.graph.node:
        for name in node.output:
            match = _RAW_HEAD.match(name)
            if match:
                levels.setdefault(int(match.group(3)), {})["box" if match.group(2) == "2" else "cls"] = name
    if len(levels) < 2 or any(len(pair) != 2 for pair in levels.values()):
        return None
    model = _copy(model)
    graph = model.graph
    del graph.output[:]
    for level in sorted(levels):
        for part in ("box", "cls"):
            graph.output.append(
                helper.make_tensor_value_info(
                    levels[level][part], 1, ["batch", f"c{part}", f"h{level}", f"w{level}"]
                )
            )
    _set_symbolic(graph.input[0].type.tensor_type.shape.dim, {0: "batch", 2: "height", 3: "width"})
    _prune(graph)
    return model
