"""File names that are safe everywhere: in a ZIP, in Content-Disposition, on any file system."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 80


def client_filename(raw: str | None) -> str:
    """What the client called the file, for display: the last path component, printable, ≤ 255 chars."""
    if not raw:
        return ""
    name = PureWindowsPath(PurePosixPath(raw.replace("\x00", "")).name).name
    name = "".join(ch for ch in name if ch.isprintable())
    name = name.strip()[:255]
    return "" if name in (".", "..") else name


def safe_stem(raw: str | None, fallback: str) -> str:
    """An ASCII stem without path separators, dots at the start or reserved characters."""
    name = client_filename(raw)
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_stem).strip("._-")[:_MAX_STEM]
    return cleaned or fallback


def batch_entry_name(position: int, original: str | None, extension: str) -> str:
    """``001_photo.png``: the position makes names unique and keeps the upload order."""
    return f"{position + 1:03d}_{safe_stem(original, 'image')}.{extension}"
