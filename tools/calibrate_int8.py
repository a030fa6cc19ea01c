"""Measure the activation ranges the int8 graphs are built from (:mod:`engine.quantized_graph`)::

    python -m tools.calibrate_int8            # rewrites every file in engine/calibration/
    python -m tools.calibrate_int8 u2net      # only u2net.json (or isnet_fp16.json with ``isnet_fp16``)

The model runs on the photos bundled with scikit-image (BSD-3, a dev dependency), fed exactly as the
engine feeds it at the side its tier runs; onnxruntime's MinMax calibration records each activation's
range. Run it again only if the weights or the quantisation settings change, then re-check the tiers
with ``make eval``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.settings import get_settings
from engine.inference import ModelRunner
from engine.pipelines import ISNET_768, U2NET_320, ModelSpec
from engine.quantized_graph import prepared, quantize, ranges_path

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "cat",
    "hubble_deep_field",
    "immunohistochemistry",
    "coins",
    "camera",
)
"""scikit-image's bundled photos: people, objects, animals, textures, grey scale."""

MODELS: dict[str, ModelSpec] = {Path(spec.file).stem: spec for spec in (U2NET_320, ISNET_768)}
"""Weights stem → the spec whose preprocessing, side and graph (freed or not) calibration uses."""


def _photos() -> Iterator[NDArray[np.uint8]]:
    from skimage import data

    for name in PHOTOS:
        image = np.asarray(getattr(data, name)())
        yield (image if image.ndim == 3 else np.stack([image] * 3, axis=-1))[:, :, :3]


class _Feed:
    def __init__(self, runner: ModelRunner) -> None:
        self.inputs = iter([{runner.spec.input_name: runner.preprocess(p)} for p in _photos()])

    def get_next(self) -> dict[str, NDArray[np.float32]] | None:
        return next(self.inputs, None)


def calibrate(stem: str) -> Path:
    spec = MODELS[stem]
    settings = get_settings()
    model = settings.model_dir / spec.file
    # feeds only: the graph the ranges are measured on is the prepared fp32 one below
    runner = ModelRunner.create(spec, settings.model_dir, threads=2)
    target = ranges_path(spec.file)
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="bgremover-calibrate-") as tmp:
        quantize(prepared(model, Path(tmp), resizable=spec.resizable), target, Path(tmp) / "int8.onnx", _Feed(runner))
    # onnxruntime writes the tensors in set order: sorted, a re-run that measured the same gives the same file
    target.write_text(json.dumps(json.loads(target.read_text()), sort_keys=True, indent=1) + "\n")
    target.chmod(0o644)
    return target


def main(argv: list[str] | None = None) -> int:
    stems = (sys.argv[1:] if argv is None else argv) or list(MODELS)
    unknown = [s for s in stems if s not in MODELS]
    if unknown:
        print(f"unknown model {unknown[0]!r}; one of {', '.join(MODELS)}", file=sys.stderr)
        return 2
    for stem in stems:
        print(f"wrote {calibrate(stem)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
