"""Foreground colour estimation ("decontamination"): the subject's colours without the old background.

Blur-fusion (Forte & Pitié, "Approximate Fast Foreground Colour Estimation", ICIP 2021): two passes of
alpha-weighted box blurs, a coarse one (r≈90) and a fine one (r≈6), each followed by a per-pixel correction
F = F̄ + α(I − αF̄ − (1−α)B̄). The blurred estimates are smooth, so they are computed at reduced resolution;
only the per-pixel correction runs at full resolution, and only on pixels with fractional alpha.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from engine.guided_filter import bilinear_at, working_size

F32 = NDArray[np.float32]


def _blur(x: F32, radius: int) -> F32:
    out = cv2.blur(x, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)
    return np.asarray(out, dtype=np.float32)


def _blurred_estimates(fg: F32, bg: F32, alpha: F32, radius: int) -> tuple[F32, F32]:
    a = alpha[:, :, None]
    blurred_a = _blur(alpha, radius)[:, :, None]
    blurred_f = _blur(fg * a, radius) / (blurred_a + 1e-5)
    blurred_b = _blur(bg * (1.0 - a), radius) / ((1.0 - blurred_a) + 1e-5)
    return blurred_f, blurred_b


def _correct(image: F32, alpha: F32, blurred_f: F32, blurred_b: F32) -> F32:
    a = alpha[..., None]
    corrected = blurred_f + a * (image - a * blurred_f - (1.0 - a) * blurred_b)
    return np.asarray(np.clip(corrected, 0.0, 1.0), dtype=np.float32)


def estimate_foreground(
    rgb: NDArray[np.uint8], alpha: F32, *, coarse_side: int = 512, fine_side: int = 2048
) -> NDArray[np.uint8]:
    """Foreground colours: the input where alpha is 0 or 1, the estimate where it is fractional."""
    height, width = alpha.shape
    long_side = max(width, height)
    # the paper's radii are for ~2000 px images; scale them to each working resolution
    coarse_size = working_size(width, height, coarse_side)
    fine_size = working_size(width, height, fine_side)
    coarse_r = max(8, round(90 * max(coarse_size) / 2000))
    fine_r = max(3, round(6 * max(fine_size) / 2000))

    image_c = cv2.resize(rgb, coarse_size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    alpha_c = np.asarray(cv2.resize(alpha, coarse_size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    bf_c, bb_c = _blurred_estimates(image_c, image_c, alpha_c, coarse_r)
    fg_c = _correct(image_c, alpha_c, bf_c, bb_c)

    alpha_f = np.asarray(cv2.resize(alpha, fine_size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    fg_f = np.asarray(cv2.resize(fg_c, fine_size, interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    bb_f = np.asarray(cv2.resize(bb_c, fine_size, interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    bf_f, bb_f = _blurred_estimates(fg_f, bb_f, alpha_f, fine_r)

    out = rgb.copy()
    ys, xs = np.nonzero((alpha > 0.002) & (alpha < 0.998))
    if ys.size == 0 or long_side == 0:
        return out
    image = rgb[ys, xs].astype(np.float32) / 255.0
    size = (width, height)
    fg = _correct(image, alpha[ys, xs], bilinear_at(bf_f, ys, xs, size), bilinear_at(bb_f, ys, xs, size))
    out[ys, xs] = (fg * 255.0 + 0.5).astype(np.uint8)
    return out
