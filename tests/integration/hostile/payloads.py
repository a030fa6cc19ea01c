"""Hostile uploads, built byte by byte: never allocating the pixels a header claims."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def png_header_only(width: int, height: int, *, bad_crc: bool = False) -> bytes:
    """Signature + IHDR (8-bit RGB) + one tiny IDAT + IEND: a few dozen bytes claiming width × height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    crc = (zlib.crc32(b"IHDR" + ihdr) ^ 0xDEADBEEF) & 0xFFFFFFFF if bad_crc else None
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr, crc=crc)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    return out.getvalue()


def photo(width: int = 64, height: int = 48) -> Image.Image:
    """A small picture with some structure (a gradient and a disc)."""
    img = Image.radial_gradient("L").resize((width, height)).convert("RGB")
    return img


def real_png(width: int = 64, height: int = 48) -> bytes:
    return encode(photo(width, height), "PNG")


def real_jpeg(width: int = 64, height: int = 48) -> bytes:
    return encode(photo(width, height), "JPEG", quality=85)


def real_webp(width: int = 64, height: int = 48) -> bytes:
    return encode(photo(width, height), "WEBP")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real baseline JPEG whose SOF0 marker is edited to announce width × height."""
    data = bytearray(real_jpeg())
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "no SOF0 marker in a baseline JPEG"
    # FFC0, length (2), precision (1), height (2), width (2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def random_after(prefix: bytes, size: int = 4096) -> bytes:
    return prefix + os.urandom(size)


def zip_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b"<script>alert(1)</script></svg>"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def gif() -> bytes:
    return encode(photo(), "GIF")


def bmp() -> bytes:
    return encode(photo(), "BMP")


def tiff() -> bytes:
    return encode(photo(), "TIFF")


def polyglots() -> dict[str, bytes]:
    """Files that are two things at once; each starts as a valid JPEG or PNG."""
    payload = zip_bytes({"evil.html": HTML, "../../etc/cron.d/x": b"* * * * * root id\n"})
    return {
        "jpeg+zip": real_jpeg() + payload,
        "jpeg+html": real_jpeg() + HTML,
        "png+zip": real_png() + payload,
        "png+html-text-chunk": real_png()[:-12] + png_chunk(b"tEXt", b"Comment\x00" + HTML) + png_chunk(b"IEND", b""),
    }
