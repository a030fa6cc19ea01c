from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine.png import encode_png


@pytest.mark.parametrize(
    ("shape", "mode"),
    [
        ((1, 1), "L"),
        ((37, 53), "L"),
        ((37, 53, 2), "LA"),
        ((1, 9, 3), "RGB"),
        ((37, 53, 3), "RGB"),
        ((64, 31, 4), "RGBA"),
    ],
)
def test_any_decoder_reads_back_the_exact_pixels(shape: tuple[int, ...], mode: str) -> None:
    pixels = np.random.default_rng(len(shape)).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(pixels)
    with Image.open(io.BytesIO(data)) as img:
        img.load()  # Pillow checks every chunk's CRC and the zlib stream
        assert (img.format, img.mode, img.size) == ("PNG", mode, (shape[1], shape[0]))
        assert np.array_equal(np.asarray(img), pixels)


def test_a_non_contiguous_crop_is_written_as_it_looks() -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (40, 50, 4), dtype=np.uint8)
    crop = pixels[5:30, 7:41]
    with Image.open(io.BytesIO(encode_png(crop))) as img:
        assert np.array_equal(np.asarray(img), crop)


def test_an_empty_image_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot write"):
        encode_png(np.zeros((0, 5, 4), np.uint8))
