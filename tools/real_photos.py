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
    ghost: float = 0.0
    """Ghosting: the share of pixels more than :data:`GHOST_DISTANCE` px from the subject's edge, where the
    truth is clearly subject or background, that come out half-transparent (issue 18's measure)."""


GHOST_DISTANCE = 10
"""Pixels this close to the true edge may rightly be soft (hair, fur, blur): not counted as ghosting."""
GHOST_LOW, GHOST_HIGH = 0.15, 0.85
KINDS: dict[str, str] = {
    "person": "people",
    "hair": "people",
    "object": "objects and products",
    "product": "objects and products",
    "plant": "plants and fur",
    "fur": "plants and fur",
    "animal": "animals",
    "vehicle": "vehicles",
}
"""The manifest's categories grouped into the kinds of photo customers send (issue 18)."""


def kind_of(category: str) -> str:
    return KINDS.get(category, category)


def ghosting(pred: F32, truth: F32, valid: NDArray[np.bool_] | None = None) -> float:
    """Share of the clear pixels far from the true edge that the prediction leaves half-transparent.

    ``pred`` and ``truth`` are 0..1; clear means truth < 0.05 or > 0.95, far means more than
    :data:`GHOST_DISTANCE` px from the nearest pixel on the other side of the truth's 0.5 boundary."""
    subject = (truth >= 0.5).astype(np.uint8)
    inside = cv2.distanceTransform(subject, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - subject, cv2.DIST_L2, 5)
    far = np.where(subject == 1, inside, outside) > GHOST_DISTANCE
    counted = far & ((truth < 0.05) | (truth > 0.95))
    if valid is not None:
        counted &= valid
    total = int(counted.sum())
    if total == 0:
        return 0.0
    grey = (pred >= GHOST_LOW) & (pred <= GHOST_HIGH)
    return float((grey & counted).sum() / total)


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
        iou=iou,
        sad=float(diff.sum() / 1000.0),
        mse=float((diff**2).mean() * 1000.0),
        grad=float(grad.sum() / 1000.0),
        ghost=ghosting(p.astype(np.float32), t.astype(np.float32), valid),
    )
