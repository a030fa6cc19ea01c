"""Reading uploads safely: sniff the bytes, check limits from the header, then decode to 8-bit RGB (+ alpha).

Order matters: size limit, magic bytes, header dimensions (Pillow's ``Image.open`` is lazy and reads only
the header), and only then the pixels. A decompression bomb is refused from its header, never decoded.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import CorruptImage, FileTooLarge, ResolutionTooHigh, ResolutionTooLow, UnsupportedMediaType
from core.settings import Settings

ImageFormat = Literal["jpeg", "png", "webp"]

_PIL_FORMATS: dict[ImageFormat, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
# EXIF orientations 5..8 rotate by 90°, so the displayed image has width and height swapped
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION_TAG = 0x0112
# Everything Pillow raises for a broken file once the header was accepted
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, as displayed (EXIF orientation applied to width/height)."""

    format: ImageFormat
    width: int
    height: int
    bytes: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def media_type(self) -> str:
        return f"image/{self.format}"


@dataclass(frozen=True)
class DecodedImage:
    info: ImageInfo
    rgb: NDArray[np.uint8]
    """H×W×3, sRGB assumed, EXIF orientation applied."""
    alpha: NDArray[np.uint8] | None
    """H×W, or None when the input has no transparency at all."""


def sniff(data: bytes) -> ImageFormat:
    """The container format from magic bytes; file names and content types are not trusted."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if not data:
        raise UnsupportedMediaType("the upload is empty")
    raise UnsupportedMediaType("only JPEG, PNG and WebP images are accepted (detected from the file's bytes)")


def _check_size(data: bytes, settings: Settings) -> None:
    if len(data) > settings.max_image_bytes:
        raise FileTooLarge(
            f"the image is {len(data)} bytes, the limit is {settings.max_image_bytes} bytes",
            limit=settings.max_image_bytes,
        )


def _open(data: bytes, fmt: ImageFormat) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # our own megapixel limit (checked right after) is the one that applies; Pillow's global
            # MAX_IMAGE_PIXELS guard stays as a second line: its error is mapped, its warning silenced
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
    except Image.DecompressionBombError as exc:
        raise ResolutionTooHigh(f"the image header announces too many pixels ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise CorruptImage(f"the {fmt.upper()} header cannot be read") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImage(f"the {fmt.upper()} header cannot be read: {exc}") from exc
    return img


def _check_dimensions(img: Image.Image, fmt: ImageFormat, size: int, settings: Settings) -> ImageInfo:
    width, height = img.size
    if width * height > settings.max_megapixels * 1e6:
        raise ResolutionTooHigh(
            f"the image is {width}×{height} ({width * height / 1e6:.1f} MP), "
            f"the limit is {settings.max_megapixels:g} MP",
            limit_megapixels=settings.max_megapixels,
        )
    if min(width, height) < settings.min_side:
        raise ResolutionTooLow(
            f"the image is {width}×{height}, each side must be at least {settings.min_side} px",
            min_side=settings.min_side,
        )
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        orientation = 1  # a broken EXIF block is ignored, as browsers do
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height, bytes=size)


def probe(data: bytes, settings: Settings) -> ImageInfo:
    """Cheap header check for the API before it accepts an upload; raises :class:`core.errors.ImageError`."""
    _check_size(data, settings)
    fmt = sniff(data)
    with _open(data, fmt) as img:
        return _check_dimensions(img, fmt, len(data), settings)


def decode(data: bytes, settings: Settings) -> DecodedImage:
    """Full decode to 8-bit RGB (+ alpha), after the same checks as :func:`probe`."""
    _check_size(data, settings)
    fmt = sniff(data)
    with _open(data, fmt) as img:
        info = _check_dimensions(img, fmt, len(data), settings)
        try:
            img.load()
            oriented = ImageOps.exif_transpose(img)
            rgb, alpha = _to_rgb_alpha(oriented)
        except Image.DecompressionBombError as exc:
            raise ResolutionTooHigh(str(exc)) from exc
        except _DECODE_ERRORS as exc:
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
