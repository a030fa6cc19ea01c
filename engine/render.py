"""Turning colours + alpha into the bytes the client asked for (crop, resize, background, format)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import OutputTooLarge
from core.options import OutputOptions, Position
from engine.png import encode_png

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]

# alpha at or above this (of 255) counts as subject for cropping. Guided upsampling (every tier since
# the fused pipelines) leaves a faint haze of a few percent around the edge; at 8 it widened the quokka's
# tight crop by 12 % over its outline, at 32 by 7 %: haze that faint is not worth keeping.
_CROP_THRESHOLD = 32
_MEDIA = {
    "png": ("image/png", "png"),
    "webp": ("image/webp", "webp"),
    "jpg": ("image/jpeg", "jpg"),
    "zip": ("application/zip", "zip"),
}
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


def render(rgb: U8, alpha: U8, options: OutputOptions, *, background: U8 | None = None) -> Rendered:
    """``rgb`` H×W×3 and ``alpha`` H×W, both uint8 at the input's resolution; ``background`` is the
    opaque RGB image of ``options.bg_image``, cover-scaled onto the output here."""
    if not options.semitransparency:
        _, hard = cv2.threshold(alpha, 127, 255, cv2.THRESH_BINARY)
        alpha = np.asarray(hard, dtype=np.uint8)
    if options.crop:
        x0, y0, x1, y1 = crop_box(alpha, options)
        rgb, alpha = rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    position = options.layout_position
    if position is not None:
        rgb, alpha = lay_out(rgb, alpha, options.scale, position)
    if options.size is not None and max(alpha.shape) > options.size:
        scale = options.size / max(alpha.shape)
        new_size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
        rgb = np.asarray(cv2.resize(rgb, new_size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        alpha = np.asarray(cv2.resize(alpha, new_size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    height, width = alpha.shape
    media_type, extension = _MEDIA[options.format]
    # A failed encode repeats on every try: it is final (OutputTooLarge), never retried as transient.
    options.check_output_fits(width, height)
    subject = foreground_box(alpha)

    if options.channels == "alpha":
        pixels: U8 = np.ascontiguousarray(alpha)
    else:
        shade = shadow(alpha) if options.shadow else None
        bg = options.effective_bg
        # fully transparent pixels have no colour: zeros compress to nothing and leak nothing of the
        # background; zip's color.jpg keeps every colour (no black fringe in JPEG)
        clear = not options.opaque and options.format != "zip"
        if background is not None:
            pixels = _over(rgb, alpha, _cover(background, width, height), shade)
        elif bg is not None and bg[3] == 255 and shade is None:
            pixels = _composite(rgb, alpha, bg)[:, :, :3]
        elif bg is not None:
            layer = np.empty((height, width, 4), np.uint8)
            layer[:] = bg
            pixels = _over(rgb, alpha, layer, shade)
        elif shade is not None:
            pixels = _over(rgb, alpha, None, shade)
        elif clear:
            # cleared before the merge: 2.8 ms at 2 MP, against 8.7 for clearing the merged RGBA below
            pixels = np.asarray(cv2.merge((cv2.bitwise_and(rgb, rgb, mask=alpha), alpha)), dtype=np.uint8)
            clear = False
        else:
            pixels = np.asarray(cv2.merge((rgb, alpha)), dtype=np.uint8)  # RGBA, one pass
        if pixels.shape[2] == 4:
            if options.opaque:
                pixels = pixels[:, :, :3]
            elif clear:
                pixels = np.asarray(cv2.bitwise_and(pixels, pixels, mask=pixels[:, :, 3].copy()), dtype=np.uint8)
        pixels = np.ascontiguousarray(pixels)
    if options.format == "zip":
        data = _zip(pixels)
    elif options.format == "png":
        # the pixels are in PNG's channel order (RGB[A]); OpenCV's encoders get them swapped to BGR[A]
        data = encode_png(pixels)
    else:
        data = _encode_cv2(pixels, options.format, extension)
    return Rendered(data, media_type, extension, width, height, subject)


def lay_out(rgb: U8, alpha: U8, scale: float | None, position: Position) -> tuple[U8, U8]:
    """The subject's box moved (and with ``scale`` resized) on a transparent canvas of the same size,
    as remove.bg's ``scale`` and ``position`` do: ``scale`` is the share of the canvas the box spans in
    its limiting direction, ``position`` where the box sits (0 % = left/top edge, 100 % = right/bottom)."""
    height, width = alpha.shape
    left, top, w, h = foreground_box(alpha)
    if w == 0 or h == 0:
        return rgb, alpha  # nothing to place
    sub_rgb, sub_alpha = rgb[top : top + h, left : left + w], alpha[top : top + h, left : left + w]
    if scale is not None:
        factor = scale * min(width / w, height / h)
        nw, nh = max(1, min(width, round(w * factor))), max(1, min(height, round(h * factor)))
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        sub_rgb = np.asarray(cv2.resize(sub_rgb, (nw, nh), interpolation=interpolation), dtype=np.uint8)
        sub_alpha = np.asarray(cv2.resize(sub_alpha, (nw, nh), interpolation=interpolation), dtype=np.uint8)
        w, h = nw, nh
    x0, y0 = round((width - w) * position.x), round((height - h) * position.y)
    out_rgb = np.zeros_like(rgb)
    out_alpha = np.zeros_like(alpha)
    out_rgb[y0 : y0 + h, x0 : x0 + w] = sub_rgb
    out_alpha[y0 : y0 + h, x0 : x0 + w] = sub_alpha
    return out_rgb, out_alpha


# The shadow's look, in shares of the subject's box: chosen by eye on products and people on white,
# light grey and photo backgrounds (a darker or sharper one read as a second object, a wider one as haze).
_SHADOW_SIDE = 512
"""The shadow is drawn at most this large and scaled up: it is soft, and blurring 4K costs seconds."""
_DROP_OFFSET = (0.02, 0.03)
_DROP_BLUR = 0.035
_DROP_OPACITY = 0.35
_CONTACT_HEIGHT = 0.035
_CONTACT_WIDTH = 0.45
_CONTACT_BLUR = 0.02
_CONTACT_OPACITY = 0.55


def shadow(alpha: U8) -> U8:
    """The opacity (0–255) of a soft shadow under the subject of ``alpha``: a drop shadow cast down and
    to the right, plus a contact shadow where the subject stands. Zero where there is no subject."""
    height, width = alpha.shape
    left, top, w, h = foreground_box(alpha)
    if w == 0 or h == 0:
        return np.zeros_like(alpha)
    k = min(1.0, _SHADOW_SIDE / max(width, height))
    sw, sh = max(1, round(width * k)), max(1, round(height * k))
    small = np.asarray(cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA), dtype=np.float32)
    side = max(w, h) * k
    dx, dy = round(_DROP_OFFSET[0] * w * k), round(_DROP_OFFSET[1] * h * k)
    moved = np.zeros_like(small)
    moved[dy:, dx:] = small[: sh - dy, : sw - dx]
    drop = cv2.GaussianBlur(moved, (0, 0), max(0.5, _DROP_BLUR * side)) * _DROP_OPACITY
    contact = np.zeros_like(small)
    centre = (round((left + w / 2) * k), round((top + h) * k))
    axes = (max(1, round(_CONTACT_WIDTH * w * k)), max(1, round(_CONTACT_HEIGHT * w * k)))
    cv2.ellipse(contact, centre, axes, 0, 0, 360, 255.0, thickness=-1)
    contact = cv2.GaussianBlur(contact, (0, 0), max(0.5, _CONTACT_BLUR * side)) * _CONTACT_OPACITY
    shade = np.maximum(drop, contact)
    if (sw, sh) != (width, height):
        shade = cv2.resize(shade, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(np.clip(shade + 0.5, 0, 255), dtype=np.uint8)


def _cover(image: U8, width: int, height: int) -> U8:
    """``image`` scaled to cover ``width`` × ``height`` and cut to it, centred (CSS ``background-size: cover``)."""
    ih, iw = image.shape[:2]
    factor = max(width / iw, height / ih)
    sw, sh = max(width, round(iw * factor)), max(height, round(ih * factor))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    scaled = np.asarray(cv2.resize(image, (sw, sh), interpolation=interpolation), dtype=np.uint8)
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return np.ascontiguousarray(scaled[y0 : y0 + height, x0 : x0 + width])


def _over(rgb: U8, alpha: U8, below: U8 | None, shade: U8 | None) -> U8:
    """Straight-alpha "over": the subject over its black shadow over ``below`` (RGB or RGBA; None:
    transparent). Returns RGBA."""
    height, width = alpha.shape
    if below is None:
        base_rgb = np.zeros((height, width, 3), np.float32)
        base_a = np.zeros((height, width, 1), np.float32)
    else:
        base_rgb = below[:, :, :3].astype(np.float32)
        base_a = (
            below[:, :, 3:4].astype(np.float32) * np.float32(1 / 255)
            if below.shape[2] == 4
            else np.ones((height, width, 1), np.float32)
        )
    if shade is not None:
        s = shade.astype(np.float32)[:, :, None] * np.float32(1 / 255)
        # black over the base: the colour darkens where the base shows, the coverage grows
        new_a = s + base_a * (1.0 - s)
        base_rgb = base_rgb * (base_a * (1.0 - s)) / np.maximum(new_a, 1e-6)
        base_a = new_a
    a = alpha.astype(np.float32)[:, :, None] * np.float32(1 / 255)
    out_a = a + base_a * (1.0 - a)
    colour = (rgb * a + base_rgb * (base_a * (1.0 - a))) / np.maximum(out_a, 1e-6)
    out = np.empty((height, width, 4), dtype=np.uint8)
    out[:, :, :3] = np.clip(colour + 0.5, 0, 255)
    out[:, :, 3] = np.clip(out_a[:, :, 0] * 255.0 + 0.5, 0, 255)
    return out


def _zip(pixels: U8) -> bytes:
    """remove.bg's ``format=zip``: ``color.jpg`` (the subject's colours, full frame) and ``alpha.png``
    (the matte), which together are the transparent result at a fraction of a PNG's size."""
    colour = pixels[:, :, :3]
    alpha = pixels[:, :, 3] if pixels.shape[2] == 4 else np.full(pixels.shape[:2], 255, np.uint8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("color.jpg", _encode_cv2(np.ascontiguousarray(colour), "jpg", "jpg"))
        archive.writestr("alpha.png", encode_png(np.ascontiguousarray(alpha)))
    return buffer.getvalue()


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
