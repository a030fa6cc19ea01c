"""The real-photo evaluation set (``/work/shared/eval/real``, read in place, never copied): loading and scoring.

Ground truth per its README: ``gt_kind = alpha`` (``am_*``) is a true matte; ``binary`` is 0/255, and the
GrabCut photos (``gc_*``) also use 128 for a mixed boundary band that is ignored when scoring. IoU uses
prediction alpha ≥ 128 against truth ≥ 128; SAD, MSE and gradient error are computed on every photo (the
128 band of ``gc_*`` excluded), as in the issue's table.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]

DEFAULT_DIR = Path(os.environ.get("BGREMOVER_REAL_EVAL_DIR", "/work/shared/eval/real"))
IGNORED = 128
"""GrabCut's mixed-boundary value in the ``gc_*`` masks."""


@dataclass(frozen=True)
class RealPhoto:
    name: str
    category: str
    gt_kind: str
    path: Path
    truth: U8

    @property
    def ignore_band(self) -> bool:
        return self.name.startswith("gc_")


@dataclass(frozen=True)
class RealScores:
    iou: float
    sad: float
    """Sum of absolute differences, in thousands."""
    mse: float
    """Mean squared error ×1e3 (alpha in 0..1)."""
    grad: float
    """Gradient error (σ = 1.4), in thousands."""


def load(directory: Path = DEFAULT_DIR) -> list[RealPhoto]:
    manifest = directory / "manifest.csv"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} not found: the real-photo eval set is missing")
    photos = []
    with manifest.open(newline="") as fh:
        for row in csv.DictReader(fh):
            truth = cv2.imread(str(directory / "alpha" / f"{row['name']}.png"), cv2.IMREAD_GRAYSCALE)
            if truth is None:
                raise FileNotFoundError(f"ground truth of {row['name']} is missing")
            photos.append(
                RealPhoto(
                    row["name"],
                    row["category"],
                    row["gt_kind"],
                    directory / "images" / f"{row['name']}.jpg",
                    np.asarray(truth, np.uint8),
                )
            )
    return photos


def _gradient_magnitude(alpha: NDArray[np.float64]) -> NDArray[np.float64]:
    gx = ndimage.gaussian_filter(alpha, 1.4, order=(0, 1))
    gy = ndimage.gaussian_filter(alpha, 1.4, order=(1, 0))
    return np.asarray(np.hypot(gx, gy), dtype=np.float64)


def score(photo: RealPhoto, alpha: U8) -> RealScores:
    """``alpha``: the prediction as 8-bit, same size as the photo."""
    if alpha.shape != photo.truth.shape:
        raise ValueError(f"{photo.name}: shapes differ: {alpha.shape} vs {photo.truth.shape}")
    valid = photo.truth != IGNORED if photo.ignore_band else np.ones(photo.truth.shape, bool)
    p = alpha.astype(np.float64) / 255.0
    t = photo.truth.astype(np.float64) / 255.0
    fg_p, fg_t = (alpha >= 128) & valid, (photo.truth >= 128) & valid
    union = int((fg_p | fg_t).sum())
    iou = float((fg_p & fg_t).sum() / union) if union else 1.0
    diff = np.abs(p - t)[valid]
    grad = ((_gradient_magnitude(p) - _gradient_magnitude(t)) ** 2)[valid]
    return RealScores(
        iou=iou, sad=float(diff.sum() / 1000.0), mse=float((diff**2).mean() * 1000.0), grad=float(grad.sum() / 1000.0)
    )
