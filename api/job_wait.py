"""Waiting, bounded, for a job or a batch to reach its final state: long polls (``?wait=``) and the
routes that answer synchronously (remove.bg, Lumiku).

The waiter registers with :class:`api.final_signals.FinalSignals` and then reads the row; it wakes as
soon as the worker announces the end, never trusts Redis alone (the row decides), and still notices an
end without a signal (a sweep, Redis restarted) at the next re-read. No database connection is held
while waiting: each read takes one from the pool and gives it back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from api.final_signals import FinalSignals
from core.errors import NotFound
from core.rows import BatchRow, JobRow
from db import batches, jobs

MAX_WAIT_S = 30.0
"""The longest ``?wait=`` a request may ask for: below common proxy and client read timeouts (60 s)."""


class _Finishing(Protocol):
    @property
    def unfinished(self) -> bool: ...


R = TypeVar("R", bound=_Finishing)


async def _wait(
    signals: FinalSignals, kind: str, object_id: object, read: Callable[[], Awaitable[R]], timeout_s: float
) -> R:
    deadline = time.monotonic() + timeout_s
    while True:
        future = await signals.register(kind, object_id)
        try:
            row = await read()
            left = deadline - time.monotonic()
            if not row.unfinished or left <= 0:
                return row
            await signals.wait(future, min(signals.recheck_s, left))
        finally:
            signals.release(kind, object_id, future)


async def wait_until_final(signals: FinalSignals, job_id: uuid.UUID, user_id: str, timeout_s: float) -> JobRow:
    """The job's row once final, or as it is when ``timeout_s`` ran out (check ``row.unfinished``)."""

    async def read() -> JobRow:
        row = await jobs.get_job(job_id, user_id)
        if row is None:
            raise NotFound(f"No job {job_id}.", resource="job")
        return row

    return await _wait(signals, "job", job_id, read, timeout_s)


async def wait_until_batch_final(signals: FinalSignals, batch: BatchRow, user_id: str, timeout_s: float) -> BatchRow:
    """The batch's row once final (its ZIP built), or as it is when ``timeout_s`` ran out."""

    async def read() -> BatchRow:
        row = await batches.get_batch(batch.id, user_id)
        if row is None:
            raise NotFound(f"No batch {batch.id}.", resource="batch")
        return row

    if not batch.unfinished or timeout_s <= 0:
        return batch
    return await _wait(signals, "batch", batch.id, read, timeout_s)
