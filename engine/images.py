"""Decoding uploads to 8-bit RGB (+ alpha), after the header checks of :mod:`core.image_probe`.

A decompression bomb is refused from its header, never decoded; only then are the pixels read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from core.errors import CorruptImage, ResolutionTooHigh
from core.image_probe import DECODE_ERRORS, ImageInfo, check_dimensions, check_size, open_header, sniff
from core.settings import Settings


@dataclass(frozen=True)
class DecodedImage:
    info: ImageInfo
    rgb: NDArray[np.uint8]
    """H×W×3, sRGB assumed, EXIF orientation applied."""
    alpha: NDArray[np.uint8] | None
    """H×W, or None when the input has no transparency at all."""


def decode(data: bytes, settings: Settings) -> DecodedImage:
    """Full decode to 8-bit RGB (+ alpha), after the same checks as :func:`probe`."""
    check_size(data, settings)
    fmt = sniff(data)
    with open_header(data, fmt) as img:
        info = check_dimensions(img, fmt, len(data), settings)
        try:
            img.load()
            # in place: the default copies the whole image even when the orientation is already upright
            # (~8 ms of a 2 MP photo's ~26 ms decode, measured)
            ImageOps.exif_transpose(img, in_place=True)
            rgb, alpha = _to_rgb_alpha(img)
        except Image.DecompressionBombError as exc:
            raise ResolutionTooHigh(str(exc)) from exc
        except DECODE_ERRORS as exc:
            raise CorruptImage(f"the {fmt.upper()} data is truncated or corrupt: {exc}") from exc
    if rgb.shape[:2] != (info.height, info.width):
        raise CorruptImage("the decoded size does not match the header")
    return DecodedImage(info=info, rgb=rgb, alpha=alpha)


def _scale16(arr: NDArray[np.generic]) -> NDArray[np.uint8]:
    # Pillow's convert("L") clips 16-bit values at 255 instead of scaling them: do it ourselves
    wide = arr.astype(np.uint32)
    if wide.max(initial=0) > 255:
        wide = (wide + 128) // 257
    return np.clip(wide, 0, 255).astype(np.uint8)


def _to_rgb_alpha(img: Image.Image) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None]:
    mode = img.mode
    alpha: NDArray[np.uint8] | None = None
    if mode.startswith("I") or mode == "F":
        grey = _scale16(np.asarray(img))
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        return np.ascontiguousarray(rgb), None
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"))
        rgb = np.ascontiguousarray(rgba[:, :, :3])
        alpha = np.ascontiguousarray(rgba[:, :, 3])
        if int(alpha.min()) == 255:
            alpha = None
        return rgb, alpha
    if mode != "RGB":
        img = img.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted handled by the JPEG plugin), YCbCr, LAB
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8)), None
