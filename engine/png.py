"""PNG encoding with ISA-L's deflate (the ``isal`` package): the worker's most expensive step after the model.

A 2 MP RGBA cut-out took OpenCV's encoder (zlib level 1, "up" filter) 71–76 ms; the same "up" filter in
numpy plus ``isal_zlib.compress`` at level 1 took 20–34 ms and the file came out ~5 % smaller (896 vs
938 KB; measured interleaved on the shared 2-core machine under load, so the absolute times are high).
The container is the minimal valid PNG: signature, IHDR, one IDAT, IEND, 8 bits per channel, no interlace.
"""

from __future__ import annotations

import struct

import numpy as np
from isal import isal_zlib
from numpy.typing import NDArray

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → grey, grey+alpha, RGB, RGBA
_FILTER_UP = 2
# ISA-L level 1: most of level 2's ratio at ~60 % of its time; level 0 is faster still but ~15 % larger
_LEVEL = 1


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = isal_zlib.crc32(payload, isal_zlib.crc32(kind))
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc & 0xFFFFFFFF)


def encode_png(pixels: NDArray[np.uint8]) -> bytes:
    """H×W (grey) or H×W×C uint8 in PNG channel order (grey, grey+alpha, RGB, RGBA) → PNG bytes."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    if height < 1 or width < 1 or channels not in _COLOUR_TYPE:
        raise ValueError(f"cannot write a {width}×{height}×{channels} image as PNG")
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    # each scanline: one filter byte, then the byte-wise difference to the line above (uint8 wraps, as PNG wants)
    filtered = np.empty((height, width * channels + 1), dtype=np.uint8)
    filtered[:, 0] = _FILTER_UP
    filtered[0, 0] = 0  # the first line has no line above: "none" is the same bytes and says so
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    data = isal_zlib.compress(filtered.data, _LEVEL)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", data), _chunk(b"IEND", b"")))
