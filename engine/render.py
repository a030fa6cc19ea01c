"""Turning colours + alpha into the bytes the client asked for (crop, resize, background, format)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import OutputTooLarge
from core.options import OutputOptions
from engine.png import encode_png

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]

# alpha at or above this (of 255) counts as subject for cropping. Guided upsampling (every tier since
# the fused pipelines) leaves a faint haze of a few percent around the edge; at 8 it widened the quokka's
# tight crop by 12 % over its outline, at 32 by 7 %: haze that faint is not worth keeping.
_CROP_THRESHOLD = 32
_MEDIA = {"png": ("image/png", "png"), "webp": ("image/webp", "webp"), "jpg": ("image/jpeg", "jpg")}
_WEBP_PARAMS = [cv2.IMWRITE_WEBP_QUALITY, 90]
_JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 92]


@dataclass(frozen=True)
class Rendered:
    data: bytes
    media_type: str
    extension: str
    width: int
    height: int
    foreground: tuple[int, int, int, int]
    """The subject's (left, top, width, height) in the output; all zero when nothing is opaque enough."""


def to_u8(alpha: F32) -> U8:
    """0..1 float → 0..255 with rounding and saturation, in one pass."""
    return np.asarray(cv2.convertScaleAbs(alpha, alpha=255.0), dtype=np.uint8)


def crop_box(alpha: U8, options: OutputOptions) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the subject plus margin, clamped to the image."""
    height, width = alpha.shape
    rows = np.flatnonzero((alpha >= _CROP_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((alpha >= _CROP_THRESHOLD).any(axis=0))
    if rows.size == 0:
        return 0, 0, width, height
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    margin = options.crop_margin.pixels(x1 - x0, y1 - y0)
    return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)


def foreground_box(alpha: U8) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the pixels that count as subject (the crop's threshold)."""
    _, subject = cv2.threshold(alpha, _CROP_THRESHOLD - 1, 255, cv2.THRESH_BINARY)
    left, top, width, height = cv2.boundingRect(subject)
    return int(left), int(top), int(width), int(height)


def render(rgb: U8, alpha: U8, options: OutputOptions) -> Rendered:
    """``rgb`` H×W×3 and ``alpha`` H×W, both uint8 at the input's resolution."""
    if options.crop:
        x0, y0, x1, y1 = crop_box(alpha, options)
        rgb, alpha = rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    if options.size is not None and max(alpha.shape) > options.size:
        scale = options.size / max(alpha.shape)
        new_size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
        rgb = np.asarray(cv2.resize(rgb, new_size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        alpha = np.asarray(cv2.resize(alpha, new_size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    height, width = alpha.shape
    media_type, extension = _MEDIA[options.format]

    if options.channels == "alpha":
        pixels: U8 = np.ascontiguousarray(alpha)
    else:
        bg = options.effective_bg
        if bg is None:
            pixels = np.asarray(cv2.merge((rgb, alpha)), dtype=np.uint8)  # RGBA, one pass
            # fully transparent pixels have no colour: zeros compress to nothing and leak nothing of the background
            pixels = np.asarray(cv2.bitwise_and(pixels, pixels, mask=alpha), dtype=np.uint8)
        else:
            pixels = _composite(rgb, alpha, bg)
            if options.format == "jpg" or bg[3] == 255:
                pixels = np.ascontiguousarray(pixels[:, :, :3])
    # A failed encode repeats on every try: it is final (OutputTooLarge), never retried as transient.
    options.check_output_fits(width, height)
    # the pixels are in PNG's channel order (RGB[A]); OpenCV's encoders get them swapped to BGR[A]
    data = encode_png(pixels) if options.format == "png" else _encode_cv2(pixels, options.format, extension)
    return Rendered(data, media_type, extension, width, height, foreground_box(alpha))


def _encode_cv2(pixels: U8, fmt: str, extension: str) -> bytes:
    """WebP and JPEG through OpenCV, which wants BGR(A)."""
    if pixels.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
        pixels = np.asarray(cv2.cvtColor(pixels, code), dtype=np.uint8)
    params = _WEBP_PARAMS if fmt == "webp" else _JPEG_PARAMS
    height, width = pixels.shape[:2]
    try:
        ok, encoded = cv2.imencode(f".{extension}", pixels, params)
    except cv2.error as exc:
        raise OutputTooLarge(f"the {fmt.upper()} encoder refused a {width}×{height} image") from exc
    if not ok:
        raise OutputTooLarge(f"the {fmt.upper()} encoder refused a {width}×{height} image")
    return bytes(encoded.tobytes())


def _composite(rgb: U8, alpha: U8, bg: tuple[int, int, int, int]) -> U8:
    """Straight-alpha "over" onto a (possibly translucent) colour; returns RGBA."""
    a = alpha.astype(np.float32)[:, :, None] * np.float32(1 / 255)
    bg_a = bg[3] / 255.0
    bg_rgb = np.array([bg[0], bg[1], bg[2]], dtype=np.float32)
    out_a = a + bg_a * (1.0 - a)
    colour = rgb * a + bg_rgb * (bg_a * (1.0 - a))
    colour /= np.maximum(out_a, 1e-6)
    out = np.empty((*alpha.shape, 4), dtype=np.uint8)
    out[:, :, :3] = np.clip(colour + 0.5, 0, 255)
    out[:, :, 3] = np.clip(out_a[:, :, 0] * 255.0 + 0.5, 0, 255)
    return out
