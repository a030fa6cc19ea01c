"""U²-Net and IS-Net in 8-bit integers: 3–4× faster on these cores, the same cut-outs where used.

onnxruntime's static quantisation (QDQ: unsigned 8-bit activations, signed 8-bit weights per output
channel) needs the range of every activation. Those ranges were measured once per model, by running it
on the photos bundled with scikit-image (``python -m tools.calibrate_int8``), and ship as
``engine/calibration/<weights>.json``: a worker derives the same int8 graph from the registry's weights
without any calibration photo (the result is byte-identical from run to run).

How a graph is prepared for the quantiser: moved to opset 13 if older (the first with per-channel
``DequantizeLinear``); IS-Net's fp16 export turned into fp32 first (every fp16 weight and constant, and
every cast to fp16), as the quantiser reads fp32 ranges and weights; IS-Net's constant-size resizes
freed too (:mod:`engine.resizable_graph`), so the int8 graph runs at the tier's side.

Measured (2 cores, bare ``session.run``): U²-Net at 320² fp32 0.59–0.64 s, int8 0.18 s; IS-Net at 768²
fp16 ~1.0 s, int8 0.28 s. Which tier runs which is decided on the real photos (:mod:`engine.pipelines`).

``onnx`` and ``onnxruntime.quantization`` are imported only here, when a runner builds the graph; the
graph onnxruntime optimises from it is then kept beside the weights (:func:`engine.inference.optimized_model_path`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.resizable_graph import free_input_size

if TYPE_CHECKING:
    from onnx import ModelProto

CALIBRATION_DIR = Path(__file__).with_name("calibration")

INT8_OPSET = 13


def ranges_path(model_file: str) -> Path:
    """The committed activation ranges of ``model_file`` (``u2net.onnx`` → ``calibration/u2net.json``)."""
    return CALIBRATION_DIR / f"{Path(model_file).stem}.json"


def as_fp32(model: ModelProto) -> ModelProto:
    """``model`` with every fp16 weight, constant and cast made fp32 (in place; returned for chaining)."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    changed = 0
    for tensor in graph.initializer:
        if tensor.data_type == TensorProto.FLOAT16:
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float32), tensor.name))
            changed += 1
    for node in graph.node:
        for attribute in node.attribute:
            if node.op_type == "Constant" and attribute.t.data_type == TensorProto.FLOAT16:
                value = numpy_helper.to_array(attribute.t).astype(np.float32)
                attribute.t.CopyFrom(numpy_helper.from_array(value, attribute.t.name))
                changed += 1
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == TensorProto.FLOAT16:
                attribute.i = TensorProto.FLOAT
                changed += 1
    if changed:
        del graph.value_info[:]  # recorded as fp16; the quantiser's shape inference records them again
    return model


def prepared(model: Path, into: Path, *, resizable: bool = False) -> Path:
    """The fp32 graph at opset 13 with its shapes inferred: what both calibration and quantisation read.
    ``resizable``: its constant-size resizes freed first (IS-Net)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    data = model.read_bytes()
    proto = onnx.load_from_string(free_input_size(data) if resizable else data)
    as_fp32(proto)
    if next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) < INT8_OPSET:
        proto = version_converter.convert_version(proto, INT8_OPSET)
    upgraded = into / "fp32.onnx"
    onnx.save(proto, str(upgraded))
    out = into / "prepared.onnx"
    # a freed graph has symbolic sides, which onnxruntime's symbolic shape inference cannot follow through
    # IS-Net's resizes; onnx's own inference is enough for the quantiser
    quant_pre_process(str(upgraded), str(out), skip_optimization=True, skip_symbolic_shape=resizable)
    return out


def quantize(prepared_model: Path, ranges: Path, out: Path, reader: object | None = None) -> None:
    """Static QDQ quantisation with the ranges in ``ranges`` (measured first with ``reader`` when given)."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        str(prepared_model),
        str(out),
        reader,
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibration_cache_path=str(ranges),
    )


def int8_graph(model: Path, *, resizable: bool = False) -> bytes:
    """The serialised int8 graph of ``model``, from its committed ranges."""
    ranges = ranges_path(model.name)
    if not ranges.is_file():
        raise FileNotFoundError(f"no activation ranges for {model.name} in {CALIBRATION_DIR}")
    with tempfile.TemporaryDirectory(prefix="bgremover-int8-") as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize(prepared(model, Path(tmp), resizable=resizable), ranges, out)
        return out.read_bytes()
