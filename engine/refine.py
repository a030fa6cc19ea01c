"""Post-processing steps named by :mod:`core.tiers`: model mask → full-resolution alpha (+ colours)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.options import OBJECT_TYPES
from engine.downscale import AreaPyramid
from engine.foreground import estimate_foreground
from engine.guided_filter import bilinear_at, guided_coefficients, guided_upsample, working_size
from engine.matting import closed_form_band, trimap_from_alpha
from engine.pipelines import Step
from engine.portrait import PortraitRunner

F32 = NDArray[np.float32]


@dataclass
class Frame:
    """One image moving through a tier's steps; created per call, never cached."""

    rgb: NDArray[np.uint8]
    """Full resolution input colours."""
    mask: F32
    """The model's 0..1 mask at the model's resolution."""
    alpha: F32 | None = None
    """Full resolution alpha once a step has produced it."""
    foreground: NDArray[np.uint8] | None = None
    """Decontaminated colours, if a step estimated them."""
    portrait: PortraitRunner | None = None
    """The portrait matting model, for tiers with a ``portrait`` step."""
    subject_type: str = "auto"
    """The client's ``type``: ``person`` skips the face check of the portrait step, object types skip the step."""
    pyramid: AreaPyramid | None = None
    """Smaller copies of ``rgb``, shared with the model passes that made ``mask``; made here when not given."""

    def __post_init__(self) -> None:
        if self.pyramid is None:
            self.pyramid = AreaPyramid(self.rgb)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def current_alpha(self) -> F32:
        if self.alpha is None:
            self.alpha = upsample_bilinear_alpha(self.mask, self.size)
        return self.alpha


def fuse(maps: list[tuple[F32, float]]) -> F32:
    """Weighted mean of 0..1 maps, each resized (bilinear) to the largest one's size."""
    if len(maps) == 1:
        return maps[0][0]
    h, w = max((m.shape for m, _ in maps), key=lambda shape: shape[0] * shape[1])
    total = np.zeros((h, w), np.float32)
    for m, weight in maps:
        if m.shape != (h, w):
            m = np.asarray(cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        total += np.float32(weight) * m
    total *= np.float32(1.0 / sum(weight for _, weight in maps))
    return total


def upsample_bilinear_alpha(mask: F32, size: tuple[int, int]) -> F32:
    return np.asarray(cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32)


def upsample_bilinear(frame: Frame) -> None:
    frame.alpha = upsample_bilinear_alpha(frame.mask, frame.size)


def harden(frame: Frame, low: float = 0.2, high: float = 0.8) -> None:
    """Smoothstep between ``low`` and ``high``: crisper edges, the 0.5 contour is unchanged when symmetric."""
    t = np.clip((np.arange(256, dtype=np.float32) / 255.0 - low) / (high - low), 0.0, 1.0)
    table = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    # a 256-entry lookup on the quantised alpha: one pass over a 12 MP image instead of six
    quantised = cv2.convertScaleAbs(frame.current_alpha(), alpha=255.0)
    frame.alpha = np.asarray(cv2.LUT(quantised, table), dtype=np.float32)


def upsample_guided(frame: Frame, work_side: float = 1024, radius: float = 4, eps: float = 1e-3) -> None:
    frame.alpha = guided_upsample(
        frame.rgb, frame.mask, work_side=int(work_side), radius=int(radius), eps=eps, pyramid=frame.pyramid
    )


def matting(frame: Frame, work_side: float = 1024, band: float = 4, eps: float = 1e-6) -> None:
    """Trimap from the current alpha, closed-form alpha in the unknown band at ``work_side``, back to full size.

    The solved matte is locally affine in colour, which is exactly the guided filter's model, so its
    coefficients computed at the working resolution carry it to full resolution without blurring edges.
    """
    alpha = frame.current_alpha()
    width, height = frame.size
    ww, wh = working_size(width, height, int(work_side))
    image = cv2.resize(frame.rgb, (ww, wh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    coarse = np.asarray(cv2.resize(alpha, (ww, wh), interpolation=cv2.INTER_AREA), dtype=np.float32)
    known_fg, unknown = trimap_from_alpha(coarse, int(band))
    if not unknown.any():
        return
    matte = closed_form_band(image, coarse, known_fg, unknown, eps=eps)
    # blend only inside the (upsampled, slightly feathered) band; the sure regions keep their alpha
    weight = np.asarray(cv2.resize(unknown.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR))
    ys, xs = np.nonzero(weight > 0)
    if (ww, wh) == (width, height):
        refined = matte[ys, xs]
    else:
        a, b = guided_coefficients(image, matte, 1, 1e-5)
        colours = frame.rgb[ys, xs].astype(np.float32) * np.float32(1 / 255)
        refined = np.einsum("nc,nc->n", bilinear_at(a, ys, xs, (width, height)), colours)
        refined += bilinear_at(b, ys, xs, (width, height))
        np.clip(refined, 0.0, 1.0, out=refined)
    new_alpha = alpha.copy()
    w = weight[ys, xs]
    new_alpha[ys, xs] = alpha[ys, xs] + w * (refined - alpha[ys, xs])
    frame.alpha = new_alpha


def portrait(frame: Frame, weight: float = 1.0) -> None:
    """Where a person is the subject, the portrait matting model's alpha is mixed into the fused one with
    ``weight`` (1: it replaces it)."""
    if frame.portrait is None or frame.subject_type in OBJECT_TYPES:
        return
    if frame.subject_type == "person":
        matte = frame.portrait.forced_alpha(frame.rgb)
    else:
        matte = frame.portrait.person_alpha(frame.rgb, frame.current_alpha())
    if matte is None:
        return
    mixed = frame.current_alpha() * np.float32(1.0 - weight)
    mixed += np.float32(weight) * matte
    frame.alpha = mixed


def foreground(frame: Frame) -> None:
    frame.foreground = estimate_foreground(frame.rgb, frame.current_alpha())


STEPS: dict[str, Callable[..., None]] = {
    "upsample_bilinear": upsample_bilinear,
    "harden": harden,
    "upsample_guided": upsample_guided,
    "portrait": portrait,
    "matting": matting,
    "estimate_foreground": foreground,
}


def run_step(frame: Frame, step: Step) -> None:
    STEPS[step.name](frame, **step.params)
