"""Checking uploads safely from their header: sniff the bytes, check size and dimensions, never decode.

Order matters: size limit, magic bytes, header dimensions (Pillow's ``Image.open`` is lazy and reads only
the header). A decompression bomb is refused from its header. The API calls :func:`probe` before it
accepts an upload; the engine's decoder (:mod:`engine.images`) runs the same checks before the pixels.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, UnidentifiedImageError

from core.errors import CorruptImage, FileTooLarge, ResolutionTooHigh, ResolutionTooLow, UnsupportedMediaType
from core.settings import Settings

ImageFormat = Literal["jpeg", "png", "webp"]

_PIL_FORMATS: dict[ImageFormat, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
# EXIF orientations 5..8 rotate by 90°, so the displayed image has width and height swapped
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION_TAG = 0x0112
# Everything Pillow raises for a broken file once the header was accepted
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


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


def check_size(data: bytes, settings: Settings) -> None:
    if len(data) > settings.max_image_bytes:
        raise FileTooLarge(
            f"the image is {len(data)} bytes, the limit is {settings.max_image_bytes} bytes",
            limit=settings.max_image_bytes,
        )


def open_header(data: bytes, fmt: ImageFormat) -> Image.Image:
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
    except DECODE_ERRORS as exc:
        raise CorruptImage(f"the {fmt.upper()} header cannot be read: {exc}") from exc
    return img


def check_dimensions(img: Image.Image, fmt: ImageFormat, size: int, settings: Settings) -> ImageInfo:
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
    except DECODE_ERRORS:
        orientation = 1  # a broken EXIF block is ignored, as browsers do
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height, bytes=size)


def probe(data: bytes, settings: Settings) -> ImageInfo:
    """Cheap header check for the API before it accepts an upload; raises :class:`core.errors.ImageError`."""
    check_size(data, settings)
    fmt = sniff(data)
    with open_header(data, fmt) as img:
        return check_dimensions(img, fmt, len(data), settings)
