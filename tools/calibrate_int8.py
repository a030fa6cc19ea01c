"""Measure the activation ranges the int8 U²-Net is built from (:mod:`engine.quantized_graph`)::

    python -m tools.calibrate_int8      # rewrites engine/calibration/u2net.json

The fp32 model runs on the photos bundled with scikit-image (BSD-3, a dev dependency), fed exactly as
the engine feeds it; onnxruntime's MinMax calibration records each activation's range. Run it again only
if the weights or the quantisation settings change, then re-check standard with ``make eval``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.settings import get_settings
from engine.inference import ModelRunner
from engine.pipelines import U2NET_320
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


def _photos() -> Iterator[NDArray[np.uint8]]:
    from skimage import data

    for name in PHOTOS:
        image = np.asarray(getattr(data, name)())
        yield (image if image.ndim == 3 else np.stack([image] * 3, axis=-1))[:, :, :3]


class _Feed:
    def __init__(self, runner: ModelRunner) -> None:
        self.inputs = iter([{U2NET_320.input_name: runner.preprocess(p)} for p in _photos()])

    def get_next(self) -> dict[str, NDArray[np.float32]] | None:
        return next(self.inputs, None)


def main() -> None:
    settings = get_settings()
    model = settings.model_dir / U2NET_320.file
    runner = ModelRunner.create(U2NET_320, settings.model_dir, threads=2)
    target = ranges_path(U2NET_320.file)
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="bgremover-calibrate-") as tmp:
        quantize(prepared(model, Path(tmp)), target, Path(tmp) / "int8.onnx", _Feed(runner))
    # onnxruntime writes the tensors in set order: sorted, a re-run that measured the same gives the same file
    target.write_text(json.dumps(json.loads(target.read_text()), sort_keys=True, indent=1) + "\n")
    target.chmod(0o644)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
