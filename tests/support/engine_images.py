"""Images built in memory for the engine's unit tests, and a stand-in model runner: no model is loaded."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from engine.pipelines import ModelSpec


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None) -> bytes:
    """A PNG written by hand; ``rows=None`` gives a header-only file (no pixel data is ever allocated)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(rows) if rows is not None else zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def subject_image(width: int = 64, height: int = 48) -> NDArray[np.uint8]:
    """A red disc on a blue background."""
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - height / 2) ** 2 + (xx - width / 2) ** 2 < (min(width, height) / 3) ** 2
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[...] = (20, 40, 200)
    rgb[disc] = (220, 30, 30)
    return rgb


class DiscRunner:
    """Stands in for a :class:`ModelRunner`: "segments" saturated red pixels, at the model's input size."""

    def __init__(self, spec: ModelSpec, empty: bool = False) -> None:
        self.spec = spec
        self.empty = empty

    def preprocess(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        size = self.spec.input_size
        return np.asarray(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA), dtype=np.float32)

    def run(self, small: NDArray[np.float32]) -> NDArray[np.float32]:
        mask = ((small[:, :, 0] > 150) & (small[:, :, 2] < 100)).astype(np.float32)
        return mask * 0 if self.empty else mask

    def postprocess(self, raw: NDArray[np.float32]) -> tuple[NDArray[np.float32], float]:
        return raw, float(raw.max())


class NoPersonPortrait:
    """Stands in for a :class:`engine.portrait.PortraitRunner` that finds no person (the engine keeps its mask)."""

    def person_alpha(self, rgb: NDArray[np.uint8], alpha: NDArray[np.float32]) -> NDArray[np.float32] | None:
        return None
