"""What every storage backend implements and shares: the :class:`Storage` protocol, the object a read
returns, the two errors, and the rule for keys. The backends (:mod:`core.storage`'s local directory,
:mod:`core.storage_s3`) both import it; :mod:`core.storage` re-exports it as the public surface.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO, Protocol, runtime_checkable

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
CHUNK_BYTES = 1024 * 1024


class StorageError(OSError):
    """A storage operation failed; callers treat it as transient (retry)."""


class StorageConfigError(SystemExit):
    """``STORAGE_URL`` or its credentials cannot work: the process stops at start-up with this message
    (a ``SystemExit``, like :class:`core.settings.UnsafeSettings`), never at the first upload."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"bgremover cannot use its storage: {problem} (see docs/scaling.md)")


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"invalid storage key {key!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    """An object opened for reading: its size and its bytes, streamed in chunks."""

    size: int
    chunks: AsyncIterator[bytes]


@runtime_checkable  # Litestar checks what dependency injection hands a handler
class Storage(Protocol):
    """What API and workers need from a store; every method but the ``*_blocking`` ones is async."""

    @property
    def description(self) -> str: ...
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def open(self, key: str) -> StoredObject: ...
    async def size(self, key: str) -> int | None:
        """The object's size in bytes, None when it does not exist."""
        ...

    async def exists(self, key: str) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def keys_older_than(self, prefix: str, age_s: float) -> list[str]: ...
    def chunks_blocking(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks, for code running in a thread (the ZIP writer)."""
        ...

    def writer_blocking(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A stream to write one object in a thread, at most one chunk in memory; the object appears
        only when the block exits without an exception (nothing appears otherwise)."""
        ...
