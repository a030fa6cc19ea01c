from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from core.errors import CorruptImage, FileTooLarge, ResolutionTooHigh, ResolutionTooLow, UnsupportedMediaType
from core.image_probe import probe, sniff
from core.settings import Settings
from engine.images import decode
from tests.support.engine_images import encode, raw_png, subject_image


def test_sniff_recognises_the_three_formats(jpeg_bytes: bytes) -> None:
    img = Image.fromarray(subject_image())
    assert sniff(jpeg_bytes) == "jpeg"
    assert sniff(encode(img, "PNG")) == "png"
    assert sniff(encode(img, "WEBP")) == "webp"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am a text file pretending to be a picture\n",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
        b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"%PDF-1.7\n",
    ],
    ids=["zero-bytes", "text", "gif", "riff-wave", "pdf"],
)
def test_non_images_are_unsupported(data: bytes, engine_settings: Settings) -> None:
    with pytest.raises(UnsupportedMediaType):
        probe(data, engine_settings)
    with pytest.raises(UnsupportedMediaType):
        decode(data, engine_settings)


def test_real_gif_is_unsupported_even_named_png(engine_settings: Settings) -> None:
    gif = encode(Image.fromarray(subject_image()), "GIF")
    with pytest.raises(UnsupportedMediaType) as err:
        decode(gif, engine_settings)
    assert err.value.code == "unsupported_media_type"


def test_file_too_large_is_checked_first(engine_settings: Settings, jpeg_bytes: bytes) -> None:
    small_limit = replace(engine_settings, max_image_bytes=100)
    with pytest.raises(FileTooLarge):
        probe(jpeg_bytes, small_limit)
    with pytest.raises(FileTooLarge):
        probe(b"not even an image" * 100, small_limit)


def test_truncated_jpeg_is_corrupt(engine_settings: Settings) -> None:
    data = encode(Image.fromarray(subject_image(200, 150)), "JPEG", quality=95)
    truncated = data[: len(data) // 2]
    assert probe(truncated, engine_settings).width == 200  # the header alone is fine
    with pytest.raises(CorruptImage) as err:
        decode(truncated, engine_settings)
    assert err.value.code == "corrupt_image"


def test_garbage_after_png_signature_is_corrupt(engine_settings: Settings) -> None:
    with pytest.raises(CorruptImage):
        probe(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, engine_settings)


def test_png_with_broken_pixel_data_is_corrupt(engine_settings: Settings) -> None:
    data = raw_png(32, 32, 8, 2, None)  # IDAT far too short for 32×32 RGB
    with pytest.raises(CorruptImage):
        decode(data, engine_settings)


@pytest.mark.parametrize("max_megapixels", [50.0, 1e6], ids=["our-limit", "pillow-bomb-guard"])
def test_bomb_png_header_is_refused_without_decoding(engine_settings: Settings, max_megapixels: float) -> None:
    bomb = raw_png(50_000, 50_000, 8, 2, None)  # 2.5 gigapixels announced, ~100 bytes on disk
    settings = replace(engine_settings, max_megapixels=max_megapixels)
    start = time.perf_counter()
    with pytest.raises(ResolutionTooHigh) as err:
        probe(bomb, settings)
    with pytest.raises(ResolutionTooHigh):
        decode(bomb, settings)
    assert time.perf_counter() - start < 1.0
    assert err.value.code == "resolution_too_high"


def test_just_over_the_megapixel_limit(engine_settings: Settings) -> None:
    header = raw_png(10_000, 6_000, 8, 2, None)  # 60 MP: over our 50 MP, under Pillow's own guard
    with pytest.raises(ResolutionTooHigh):
        probe(header, engine_settings)


def test_too_small_is_refused(engine_settings: Settings) -> None:
    tiny = encode(Image.new("RGB", (10, 40), "red"), "PNG")
    with pytest.raises(ResolutionTooLow) as err:
        probe(tiny, engine_settings)
    assert err.value.code == "resolution_too_low"


def test_probe_reports_format_size_and_bytes(engine_settings: Settings, jpeg_bytes: bytes) -> None:
    info = probe(jpeg_bytes, engine_settings)
    assert (info.format, info.width, info.height, info.bytes) == ("jpeg", 64, 48, len(jpeg_bytes))
    assert info.media_type == "image/jpeg"


def test_exif_rotated_jpeg_is_decoded_upright(engine_settings: Settings) -> None:
    img = Image.fromarray(subject_image(80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90° clockwise
    data = encode(img, "JPEG", exif=exif.tobytes())
    info = probe(data, engine_settings)
    assert (info.width, info.height) == (40, 80)
    decoded = decode(data, engine_settings)
    assert decoded.rgb.shape == (80, 40, 3)


def test_cmyk_jpeg_decodes_to_rgb(engine_settings: Settings) -> None:
    cmyk = Image.fromarray(subject_image()).convert("CMYK")
    decoded = decode(encode(cmyk, "JPEG", quality=95), engine_settings)
    assert decoded.rgb.shape == (48, 64, 3)
    assert decoded.alpha is None
    centre = decoded.rgb[24, 32].astype(int)
    assert centre[0] > 150 and centre[2] < 100  # still red


def test_greyscale_jpeg_and_png(engine_settings: Settings, make_png: Callable[..., bytes]) -> None:
    grey = Image.fromarray(subject_image()).convert("L")
    for data in (encode(grey, "JPEG"), make_png(grey)):
        decoded = decode(data, engine_settings)
        assert decoded.rgb.shape == (48, 64, 3)
        assert np.array_equal(decoded.rgb[:, :, 0], decoded.rgb[:, :, 1])


def test_16_bit_greyscale_png_is_scaled_not_clipped(engine_settings: Settings) -> None:
    values = np.full((20, 20), 32896, dtype=">u2")  # 32896 / 257 = 128
    values[:10] = 65535
    data = raw_png(20, 20, 16, 0, b"".join(b"\x00" + row.tobytes() for row in values))
    decoded = decode(data, engine_settings)
    assert decoded.rgb[0, 0].tolist() == [255, 255, 255]
    assert decoded.rgb[15, 0].tolist() == [128, 128, 128]


def test_16_bit_rgba_png(engine_settings: Settings) -> None:
    px = np.zeros((20, 20, 4), dtype=">u2")
    px[..., 0] = 65535
    px[..., 3] = 65535
    px[:, :10, 3] = 0
    data = raw_png(20, 20, 16, 6, b"".join(b"\x00" + row.tobytes() for row in px))
    decoded = decode(data, engine_settings)
    assert decoded.rgb[0, 15].tolist() == [255, 0, 0]
    assert decoded.alpha is not None
    assert decoded.alpha[0, 0] == 0 and decoded.alpha[0, 15] == 255


def test_palette_png_with_and_without_transparency(engine_settings: Settings, make_png: Callable[..., bytes]) -> None:
    pal = Image.fromarray(subject_image()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    opaque = decode(make_png(pal), engine_settings)
    assert opaque.alpha is None and opaque.rgb.shape == (48, 64, 3)
    background_index = pal.getpixel((0, 0))
    transparent = decode(make_png(pal, transparency=background_index), engine_settings)
    assert transparent.alpha is not None
    assert transparent.alpha[0, 0] == 0 and transparent.alpha[24, 32] == 255


def test_transparent_png_keeps_its_alpha(engine_settings: Settings, make_png: Callable[..., bytes]) -> None:
    rgba = np.dstack([subject_image(), np.full((48, 64), 255, np.uint8)])
    rgba[:, :8, 3] = 0
    decoded = decode(make_png(Image.fromarray(rgba)), engine_settings)
    assert decoded.alpha is not None and decoded.alpha[:, :8].max() == 0


def test_opaque_rgba_png_has_no_alpha(engine_settings: Settings, make_png: Callable[..., bytes]) -> None:
    rgba = Image.fromarray(subject_image()).convert("RGBA")
    assert decode(make_png(rgba), engine_settings).alpha is None


def test_webp_with_alpha(engine_settings: Settings) -> None:
    rgba = np.dstack([subject_image(), np.full((48, 64), 255, np.uint8)])
    rgba[:8] = 0
    decoded = decode(encode(Image.fromarray(rgba), "WEBP", lossless=True), engine_settings)
    assert decoded.info.format == "webp"
    assert decoded.alpha is not None and decoded.alpha[:8].max() == 0


def test_pillow_image_is_never_left_open(engine_settings: Settings, jpeg_bytes: bytes) -> None:
    # filterwarnings=error turns an unclosed-file ResourceWarning into a failure; decode twice to be sure
    for _ in range(2):
        decode(jpeg_bytes, engine_settings)
    assert Image.open(io.BytesIO(jpeg_bytes)).size == (64, 48)
