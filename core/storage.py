"""Where uploads, results and batch ZIPs live: the :class:`Storage` protocol and the local-directory backend.

``STORAGE_URL`` chooses the backend (:func:`open_storage`): ``file:///path`` (the default, from
``STORAGE_DIR``) keeps everything in one directory, which API and workers must then share;
``s3://bucket/prefix`` keeps it in S3-compatible object storage (:mod:`core.storage_s3`), so API and
workers on different machines need no shared disk.

Keys are relative, slash-separated paths made by the service (never from user input). Writes are
atomic on both backends (temporary file + rename; a single PUT or a completed multipart upload), so a
reader never sees half an object and a re-run overwrites. A missing object raises
``FileNotFoundError`` on both; any other failure is an ``OSError`` that callers treat as transient.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from core.storage_contract import (
    CHUNK_BYTES,
    Storage,
    StorageConfigError,
    StorageError,
    StoredObject,
    check_key,
)

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = [
    "CHUNK_BYTES",
    "LocalStorage",
    "Storage",
    "StorageConfigError",
    "StorageError",
    "StoredObject",
    "background_key",
    "check_key",
    "input_key",
    "open_storage",
    "output_key",
    "result_media_type",
    "zip_key",
]


INLINE_PUT_MAX_BYTES = 1024 * 1024
"""A local put up to this size is written on the event loop (in slices); a larger one in a thread,
so its copy runs beside the loop instead of in it."""
INLINE_PUT_SLICE_BYTES = 256 * 1024


class LocalStorage:
    """Files under one directory (``STORAGE_DIR``, or the path of a ``file://`` ``STORAGE_URL``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def description(self) -> str:
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def local_path(self, key: str) -> Path:
        """Where a key's file is: the API hands it to the server's sendfile."""
        return self._path(key)

    def put_blocking(self, key: str, data: bytes) -> None:
        with self.writer_blocking(key) as fh:
            fh.write(data)

    @contextlib.contextmanager
    def writer_blocking(self, key: str) -> Iterator[IO[bytes]]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def chunks_blocking(self, key: str) -> Iterator[bytes]:
        with self._path(key).open("rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                yield chunk

    async def put(self, key: str, data: bytes) -> None:
        if len(data) > INLINE_PUT_MAX_BYTES:
            await asyncio.to_thread(self.put_blocking, key, data)
            return
        # Written on the event loop, a slice at a time, so no other request waits more than one slice.
        # A thread hop slowed uploads under load: each of the loop's socket writes gives up the GIL, and
        # getting it back from a pool thread that the OS had preempted on a busy machine took milliseconds
        # (docs/reliability.md: p99 lower in 15 of 16 paired bursts). Slices also copy faster than one write.
        view = memoryview(data)
        with self.writer_blocking(key) as fh:
            for start in range(0, len(data), INLINE_PUT_SLICE_BYTES):
                fh.write(view[start : start + INLINE_PUT_SLICE_BYTES])
                if start + INLINE_PUT_SLICE_BYTES < len(data):
                    await asyncio.sleep(0)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def open(self, key: str) -> StoredObject:
        path = self._path(key)
        fh = await asyncio.to_thread(path.open, "rb")
        size = os.fstat(fh.fileno()).st_size

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await asyncio.to_thread(fh.read, CHUNK_BYTES):
                    yield chunk
            finally:
                fh.close()

        return StoredObject(size, chunks())

    async def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            stat = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        return stat.st_size if path.is_file() else None

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def keys_older_than(self, prefix: str, age_s: float) -> list[str]:
        return await asyncio.to_thread(lambda: list(self._old_keys(prefix, age_s)))

    def _old_keys(self, prefix: str, age_s: float) -> Iterator[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return
        cutoff = time.time() - age_s
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-") and path.stat().st_mtime < cutoff:
                yield path.relative_to(self.root).as_posix()


def open_storage(settings: Settings) -> Storage:
    """The backend ``STORAGE_URL`` names; an empty one is ``STORAGE_DIR``. Touches no disk or network:
    the S3 client library is imported only here and only for ``s3://``."""
    url = settings.storage_url.strip()
    if not url:
        return LocalStorage(settings.storage_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise StorageConfigError(f"STORAGE_URL {url!r}: a file URL is file:///absolute/path")
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        from core.storage_s3 import S3Storage

        return S3Storage.from_settings(settings)
    raise StorageConfigError(f"STORAGE_URL {url!r}: the scheme must be file:// or s3://")


def input_key(job_id: object, extension: str) -> str:
    return f"inputs/{job_id}.{extension}"


def output_key(job_id: object, extension: str) -> str:
    return f"outputs/{job_id}.{extension}"


def background_key(background_id: object, extension: str) -> str:
    """A client's background image (``bg_image_file`` / ``bg_image_url``), shared by a batch's jobs;
    the retention sweep deletes it with the results."""
    return f"backgrounds/{background_id}.{extension}"


_RESULT_MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "zip": "application/zip"}


def result_media_type(key: str) -> str:
    """The ``Content-Type`` of a stored result, from its key's extension."""
    return _RESULT_MEDIA_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


def zip_key(batch_id: object) -> str:
    return f"zips/{batch_id}.zip"
