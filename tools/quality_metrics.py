"""Alpha-matte error measures, as in the matting literature (Rhemann et al., CVPR 2009)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class MatteScores:
    iou: float
    """Intersection over union of alpha ≥ 0.5 (higher is better)."""
    mae: float
    """Mean absolute alpha error, 0..1."""
    sad: float
    """Sum of absolute differences, in thousands (the usual unit)."""
    grad: float
    """Gradient error: squared difference of Gaussian-derivative magnitudes (σ = 1.4), in thousands."""


def _gradient_magnitude(alpha: NDArray[np.float64]) -> NDArray[np.float64]:
    gx = ndimage.gaussian_filter(alpha, 1.4, order=(0, 1))
    gy = ndimage.gaussian_filter(alpha, 1.4, order=(1, 0))
    return np.asarray(np.hypot(gx, gy), dtype=np.float64)


def score(pred: F32, truth: F32) -> MatteScores:
    """Both mattes in 0..1 and of the same shape."""
    if pred.shape != truth.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {truth.shape}")
    p = pred.astype(np.float64)
    t = truth.astype(np.float64)
    fg_p, fg_t = p >= 0.5, t >= 0.5
    union = int((fg_p | fg_t).sum())
    iou = float((fg_p & fg_t).sum() / union) if union else 1.0
    diff = np.abs(p - t)
    grad = float(((_gradient_magnitude(p) - _gradient_magnitude(t)) ** 2).sum() / 1000.0)
    return MatteScores(iou=iou, mae=float(diff.mean()), sad=float(diff.sum() / 1000.0), grad=grad)
