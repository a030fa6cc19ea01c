"""Waiting, bounded, for a job or a batch to reach its final state: long polls (``?wait=``) and the
routes that answer synchronously (remove.bg, Lumiku).

The waiter registers with :class:`api.final_signals.FinalSignals` and then reads the row; it wakes as
soon as the worker announces the end, never trusts Redis alone (the row decides), and still notices an
end without a signal (a sweep, Redis restarted) at the next re-read. No database connection is held
while waiting: each read takes one from the pool and gives it back.

A wait holds a connection, so it first takes a slot of :class:`api.wait_slots.WaitSlots`: at most
``MAX_WAITS_PER_USER`` per user and ``MAX_WAITS`` in all (below ``MAX_CONNECTIONS``), long polls and
synchronous routes alike; a request that gets none is answered at once. A wait also ends early when
the client goes away and when the process begins to stop (:func:`api.wait_slots.stop_waiting`, on SIGTERM), so an
abandoned wait neither holds memory nor delays a shutdown. Before waiting, a synchronous route lets go
of its upload (:func:`forget_body`): what waits is the job's id, not the image.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from litestar import Request
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

from api.cancellation import cancel_pending_job
from api.owned import own_batch, own_job
from api.services import Services
from core.rows import BatchRow, JobRow

log = logging.getLogger("bgremover.api")

MAX_WAIT_S = 30.0
"""The longest ``?wait=`` a request may ask for: below common proxy and client read timeouts (60 s)."""

CLIENT_GONE_STATUS = 499
"""What a request whose client went away is logged with (nginx's "client closed request"); nobody reads it."""


class WaitEnd(enum.Enum):
    FINAL = "final"
    TIMED_OUT = "timed_out"
    DISCONNECTED = "disconnected"
    """The client went away: nobody reads the answer."""
    STOPPING = "stopping"
    """The process is shutting down: answer at once, retryable."""


class _Finishing(Protocol):
    @property
    def unfinished(self) -> bool: ...


R = TypeVar("R", bound=_Finishing)


@dataclass(frozen=True, slots=True)
class Waited(Generic[R]):
    row: R
    """As it was when the wait ended (final when ``end`` is ``FINAL``)."""
    end: WaitEnd
    held_s: float


async def _until_gone(request: Request[Any, Any, Any]) -> None:
    """Returns when the client disconnects (the body was read already: nothing else can arrive)."""
    try:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    except Exception as exc:  # a server that cannot tell: the wait runs to its end, as it did before
        log.debug("cannot watch the client for a disconnect (%r)", exc)
        await asyncio.Event().wait()


def _end(row: _Finishing, *, gone: bool, stopping: bool, left_s: float) -> WaitEnd | None:
    """Why the wait ends now (a final row wins over everything else), or None to wait on."""
    if not row.unfinished:
        return WaitEnd.FINAL
    if gone:
        return WaitEnd.DISCONNECTED
    if stopping:
        return WaitEnd.STOPPING
    return WaitEnd.TIMED_OUT if left_s <= 0 else None


async def _wait(
    request: Request[Any, Any, Any],
    services: Services,
    kind: str,
    object_id: object,
    read: Callable[[], Awaitable[R]],
    timeout_s: float,
) -> Waited[R]:
    signals, slots = services.final_signals, services.wait_slots
    started = time.monotonic()
    deadline = started + timeout_s
    gone = asyncio.ensure_future(_until_gone(request))
    stopping = asyncio.ensure_future(slots.until_stopping())
    try:
        while True:
            future = await signals.register(kind, object_id)
            try:
                row = await read()
                left = deadline - time.monotonic()
                end = _end(row, gone=gone.done(), stopping=stopping.done(), left_s=left)
                if end is not None:
                    return Waited(row, end, time.monotonic() - started)
                await asyncio.wait(
                    [future, gone, stopping], timeout=min(signals.recheck_s, left), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                signals.release(kind, object_id, future)
    finally:
        for task in (gone, stopping):
            task.cancel()
        await asyncio.gather(gone, stopping, return_exceptions=True)


async def wait_until_final(
    request: Request[Any, Any, Any], services: Services, job_id: uuid.UUID, timeout_s: float
) -> Waited[JobRow]:
    """The caller's job once final, or as it is when ``timeout_s`` ran out, the client went away or the
    process began to stop (``end`` says which)."""
    user_id: str = request.user.user_id

    async def read() -> JobRow:
        return await own_job(job_id, user_id)

    return await _wait(request, services, "job", job_id, read, timeout_s)


async def wait_until_batch_final(
    request: Request[Any, Any, Any], services: Services, batch: BatchRow, timeout_s: float
) -> Waited[BatchRow]:
    """The batch's row once final (its ZIP built), or as it is when the wait ended early."""
    user_id: str = request.user.user_id

    async def read() -> BatchRow:
        return await own_batch(str(batch.id), user_id)

    if not batch.unfinished or timeout_s <= 0:
        return Waited(batch, WaitEnd.FINAL if not batch.unfinished else WaitEnd.TIMED_OUT, 0.0)
    return await _wait(request, services, "batch", batch.id, read, timeout_s)


async def long_poll(
    services: Services, user_id: str, wait_s: float, wait: Callable[[], Awaitable[Waited[R]]]
) -> R | None:
    """The row a long poll (``?wait=``) ended with, in a slot of the user's; None when it asked for no
    wait, got no slot, or the process began to stop: the caller then answers as a plain poll."""
    if wait_s <= 0:
        return None
    async with services.wait_slots.slot(services.redis, user_id) as slot:
        if not slot.granted:
            return None
        outcome = await wait()
    return outcome.row if outcome.end is not WaitEnd.STOPPING else None


def forget_body(request: Request[Any, Any, Any]) -> None:
    """Drop the request's body and what was parsed from it (JSON, form fields), which Litestar keeps
    for the whole request: a synchronous route waits with its job's id, not with the upload."""
    state = ScopeState.from_scope(request.scope)
    state.body = state.json = state.form = state.msgpack = Empty
    # the Request object caches them again, in slots of its own
    request._body = request._json = request._form = Empty
    with contextlib.suppress(AttributeError):
        request._msgpack = Empty


async def cancel_abandoned(services: Services, waited: Waited[JobRow], reason: str) -> JobRow | None:
    """Cancel and refund the job of a wait that timed out or lost its client, if no worker has it yet.

    The refund would make such a request free, and so a free way to hold a connection: it counts against
    the user's rate limit instead, as many requests as the rate allows in the time it was held."""
    row = waited.row
    cancelled = await cancel_pending_job(row.id, row.user_id, services.storage, reason=reason)
    if cancelled is not None:
        await services.rate_limiter.charge_held_time(services.redis, row.user_id, waited.held_s)
    return cancelled
