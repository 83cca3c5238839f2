"""Tiny hand-built ONNX graphs standing in for weights a district gets from elsewhere.

`colour_detector`: a real (if simple) detector in the YOLOv8 output layout [1, 4 + classes, cells] with
no class names in its metadata, as vendor files often come: each 16×16 cell of the input is scored by
its mean colour, and a cell that is bright orange-red scores high as the class `flame_class`. It finds
the flames of the room-fire clip and nothing on a grey frame, which is all a mapping test needs.
`decoded_colour_detector`: the same scoring in the YOLOv5/v7 layout [1, anchors × cells, 5 + classes]
(boxes decoded, objectness, three anchors per cell of strides 8, 16 and 32).
`classifier`: an image classifier ([1, classes] output), weights that do not fit a detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def colour_detector(
    path: Path,
    class_names: Sequence[str] = ("person", "Smoke", "Flame"),
    flame_class: str = "Flame",
    size_hw: tuple[int, int] = (256, 320),
    cell: int = 16,
    names_in_metadata: bool = False,
) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    height, width = size_hw
    rows, cols = height // cell, width // cell
    n, nc = rows * cols, len(class_names)
    weight = np.zeros((nc, 3, 1, 1), np.float32)
    bias = np.full(nc, -20.0, np.float32)  # every other class: never
    flame = list(class_names).index(flame_class)
    weight[flame, :, 0, 0] = (14.0, 0.0, -14.0)  # input is RGB: red minus blue
    bias[flame] = -6.0
    ys, xs = np.mgrid[0:rows, 0:cols]
    boxes = np.stack(
        [(xs.ravel() + 0.5) * cell, (ys.ravel() + 0.5) * cell, np.full(n, 2.0 * cell), np.full(n, 2.0 * cell)]
    ).astype(np.float32)[None]
    nodes = [
        helper.make_node(
            "AveragePool", ["images"], ["pooled"], kernel_shape=[cell, cell], strides=[cell, cell]
        ),
        helper.make_node("Conv", ["pooled", "w", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
        helper.make_node("Reshape", ["scores", "flat"], ["scores_flat"]),
        helper.make_node("Concat", ["boxes", "scores_flat"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "colour_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, n])],
        [
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(bias, "b"),
            numpy_helper.from_array(np.array([1, nc, n], np.int64), "flat"),
            numpy_helper.from_array(boxes, "boxes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names_in_metadata:
        helper.set_model_props(model, {"names": repr(dict(enumerate(class_names)))})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def decoded_colour_detector(
    path: Path, class_names: Sequence[str] = ("smoke", "fire"), size_hw: tuple[int, int] = (256, 320)
) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    height, width = size_hw
    nc = len(class_names)
    weight = np.zeros((1 + nc, 3, 1, 1), np.float32)  # channel 0: objectness, always ~1
    bias = np.full(1 + nc, -20.0, np.float32)
    bias[0] = 6.0
    flame = 1 + list(class_names).index("fire")
    weight[flame, :, 0, 0] = (14.0, 0.0, -14.0)
    bias[flame] = -6.0
    nodes, inits, parts, boxes = (
        [],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
        [],
        [],
    )
    for s in (8, 16, 32):
        rows, cols = height // s, width // s
        nodes += [
            helper.make_node("AveragePool", ["images"], [f"p{s}"], kernel_shape=[s, s], strides=[s, s]),
            helper.make_node("Conv", [f"p{s}", "w", "b"], [f"l{s}"]),
            helper.make_node("Sigmoid", [f"l{s}"], [f"s{s}"]),
            helper.make_node("Reshape", [f"s{s}", f"shape{s}"], [f"f{s}"]),
            helper.make_node("Transpose", [f"f{s}"], [f"t{s}"], perm=[0, 2, 1]),
            helper.make_node("Concat", [f"t{s}"] * 3, [f"a{s}"], axis=1),  # three anchors per cell
        ]
        inits.append(numpy_helper.from_array(np.array([1, 1 + nc, rows * cols], np.int64), f"shape{s}"))
        parts.append(f"a{s}")
        ys, xs = np.mgrid[0:rows, 0:cols]
        cell = np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s, np.full(rows * cols, 2.0 * s),
                         np.full(rows * cols, 2.0 * s)], axis=1)  # fmt: skip
        boxes.append(np.concatenate([cell] * 3))
    box_array = np.concatenate(boxes).astype(np.float32)[None]
    inits.append(numpy_helper.from_array(box_array, "boxes"))
    nodes += [
        helper.make_node("Concat", parts, ["scores"], axis=1),
        helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=2),
    ]
    n = box_array.shape[1]
    graph = helper.make_graph(
        nodes,
        "decoded_colour_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, n, 5 + nc])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def classifier(path: Path, size: int = 64) -> Path:
    """Three class logits per image (the mean of each colour channel)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["logits"]),
        ],
        "classifier",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
