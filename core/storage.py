"""Where uploads, results and batch ZIPs live: a small interface and the local-directory backend.

Keys are relative, slash-separated paths made by the service (never from user input). Writes are
atomic (temporary file + rename), so a reader never sees half a file and a re-run overwrites.
Object storage for multi-machine deployments implements the same :class:`Storage` protocol.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class StorageError(OSError):
    """A storage operation failed; callers treat it as transient (retry)."""


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def local_path(self, key: str) -> Path: ...
    def keys_older_than(self, prefix: str, age_s: float) -> Iterator[str]: ...


class LocalStorage:
    """Files under one directory (``STORAGE_DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, source: Path) -> None:
        """Move a finished temporary file into place (used for ZIPs written in a stream)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys_older_than(self, prefix: str, age_s: float) -> Iterator[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return
        cutoff = time.time() - age_s
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-") and path.stat().st_mtime < cutoff:
                yield path.relative_to(self.root).as_posix()


async def put_async(storage: Storage, key: str, data: bytes) -> None:
    await asyncio.to_thread(storage.put, key, data)


async def get_async(storage: Storage, key: str) -> bytes:
    return await asyncio.to_thread(storage.get, key)


def input_key(job_id: object, extension: str) -> str:
    return f"inputs/{job_id}.{extension}"


def output_key(job_id: object, extension: str) -> str:
    return f"outputs/{job_id}.{extension}"


_RESULT_MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg"}


def result_media_type(key: str) -> str:
    """The ``Content-Type`` of a stored result, from its key's extension."""
    return _RESULT_MEDIA_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


def zip_key(batch_id: object) -> str:
    return f"zips/{batch_id}.zip"
