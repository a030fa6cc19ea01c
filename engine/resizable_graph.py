"""Rewrites of the exports' upsampling, made once when a runner builds its graph from the weights.

**IS-Net at an input side other than the 1024² it was exported at** (:func:`free_input_size`).

The IMG.LY export of IS-Net brings each decoder map to the size it had for a 1024² input:
``Resize(x, sizes=Concat(Shape(x)[:2], [32, 32]))``, the target height and width written in as constants.
Fed a smaller image, the maps no longer match those constants and the next ``Concat`` fails. Every one of
those resizes is an exact power-of-two upsampling (the network halves its maps five times, rounding up,
and brings them back), so each can say its factor instead of its target: ``scales`` = target ÷ source
size at 1024². With the input's height and width freed too, the same weights run at any side divisible
by 32, and at 1024² they give the same map (within fp16 rounding, ~2e-5).

Measured here (2 cores, bare ``session.run``, in units of one U²-Net-p run): 1024² 7.7 (the export as
shipped: 10.2, its constant-size resizes cost ORT's layout optimisation), 768² 4.8, 640² 2.9. Which
side a tier uses is chosen on the real photos (:mod:`engine.pipelines`).

**U²-Net-p's upsampling in onnxruntime's blocked layout** (:func:`half_pixel_resizes`). The U²-Net exports
upsample with PyTorch's ``pytorch_half_pixel`` coordinates, which onnxruntime's layout optimisation
(NCHWc) does not take: every one of U²-Net-p's 38 resizes went back to plain NCHW and forth again (107
reorders in the optimised graph: 74 out of the layout, 33 back in). ``half_pixel`` is the same sampling
whenever the output side is not 1, and these targets are the encoder's maps (10 to 320 at the 320²
input); with it all 38 run blocked and 13 reorders are left (all out of it). The raw map is the same
within float rounding (< 1e-5), and a bare U²-Net-p run took 0.40 instead of 0.43–0.44 CPU s here (two
single-threaded runs side by side, as the worker runs them).

``onnx`` is imported only here and in :mod:`engine.quantized_graph`, and only when a runner builds its
graph (the optimised graph is then kept beside the weights, so a worker's later starts skip it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import NodeProto


class NotResizable(ValueError):
    """The graph is not an export these rewrites know (another build of the weights)."""


def free_input_size(model: bytes) -> bytes:
    """The serialised model with every constant-size ``Resize`` turned into a constant-scale one and the
    first input's height and width left free."""
    import onnx
    from onnx import numpy_helper, shape_inference

    proto = onnx.load_from_string(model)
    # the source sizes at the exported input: shape inference walks them through the whole graph
    inferred = shape_inference.infer_shapes(proto)
    shapes = {
        info.name: [d.dim_value for d in info.type.tensor_type.shape.dim]
        for info in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)
    }
    graph = proto.graph
    producer = {out: node for node in graph.node for out in node.output}
    rewritten = 0
    for node in graph.node:
        if node.op_type != "Resize":
            continue
        if len(node.input) < 4 or not node.input[3]:
            continue  # already by scale
        target = _constant_target(producer, node.input[3])
        source = shapes.get(node.input[0], [])[2:]
        if target is None or len(source) != 2 or not all(source):
            raise NotResizable(f"{node.name}: its target size is not a constant of the exported input")
        scales = np.array([1.0, 1.0, target[0] / source[0], target[1] / source[1]], np.float32)
        name = f"{node.name}/scales"
        graph.initializer.append(numpy_helper.from_array(scales, name))
        x = node.input[0]
        del node.input[:]
        node.input.extend([x, "", name])
        rewritten += 1
    if not rewritten:
        raise NotResizable("no constant-size Resize found")
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        for dim in output.type.tensor_type.shape.dim[2:]:
            dim.dim_param = "side"
    del graph.value_info[:]  # the shapes recorded for 1024² would contradict any other side
    return bytes(proto.SerializeToString())


def _constant_target(producer: dict[str, NodeProto], sizes: str) -> tuple[int, int] | None:
    """The constant height and width in ``Concat(Shape(x)[:2], [h, w])``, or None."""
    from onnx import numpy_helper

    concat = producer.get(sizes)
    if concat is None or concat.op_type != "Concat" or len(concat.input) != 2:
        return None
    constant = producer.get(concat.input[1])
    if constant is None or constant.op_type != "Constant":
        return None
    value = numpy_helper.to_array(constant.attribute[0].t)
    if value.shape != (2,):
        return None
    return int(value[0]), int(value[1])


def half_pixel_resizes(model: bytes) -> bytes:
    """The serialised model with its ``pytorch_half_pixel`` resizes in ``half_pixel`` coordinates."""
    import onnx

    proto = onnx.load_from_string(model)
    rewritten = 0
    for node in proto.graph.node:
        if node.op_type != "Resize":
            continue
        for attribute in node.attribute:
            if attribute.name == "coordinate_transformation_mode" and attribute.s == b"pytorch_half_pixel":
                attribute.s = b"half_pixel"
                rewritten += 1
    if not rewritten:
        raise NotResizable("no pytorch_half_pixel Resize found")
    return bytes(proto.SerializeToString())
