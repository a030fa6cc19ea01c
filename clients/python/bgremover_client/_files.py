"""Local files: which images to upload, how to name a download, how to unpack a batch's ZIP safely."""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable
from email.message import Message
from pathlib import Path

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageSource",
    "collect_images",
    "extract_zip",
    "filename_from_disposition",
    "load_image",
    "safe_name",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
"""File name endings picked up when a folder is given (the server sniffs the bytes anyway)."""

ImageSource = str | os.PathLike[str] | bytes | tuple[str, bytes]
"""A path, raw bytes (sent as ``image``), or ``(filename, bytes)``."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def collect_images(sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand folders (not recursively, images by suffix, sorted by name) and keep files as given.

    Raises :class:`FileNotFoundError` for a path that does not exist.
    """
    items = [sources] if isinstance(sources, str | os.PathLike) else list(sources)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return paths


def load_image(source: ImageSource) -> tuple[str, bytes]:
    """``(filename, bytes)`` for an :data:`ImageSource` (reads the file)."""
    if isinstance(source, bytes):
        return "image", source
    if isinstance(source, tuple):
        name, data = source
        return name, data
    path = Path(source)
    return path.name, path.read_bytes()


def safe_name(name: str, fallback: str = "result") -> str:
    """A bare file name without directories, control characters or a leading dot."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    return base or fallback


def filename_from_disposition(header: str | None) -> str | None:
    """The (sanitised) ``filename`` of a ``Content-Disposition`` header, or None."""
    if not header:
        return None
    message = Message()
    message["content-disposition"] = header
    name = message.get_filename()
    return safe_name(name) if name else None


def extract_zip(
    archive: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, rename: dict[str, str] | None = None
) -> list[Path]:
    """Unpack ``archive`` into ``out_dir`` flat, never outside it (entries are reduced to a safe bare name).

    ``rename`` maps entry names to other names. Returns the written files in archive order.
    """
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = safe_name((rename or {}).get(info.filename, info.filename))
            dest = target / name
            with zf.open(info) as src, dest.open("wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            written.append(dest)
    return written
