"""Waiting, bounded, for a job or a batch to reach its final state: long polls (``?wait=``) and the
routes that answer synchronously (remove.bg, Lumiku).

The waiter registers with :class:`api.final_signals.FinalSignals` and then reads the row; it wakes as
soon as the worker announces the end, never trusts Redis alone (the row decides), and still notices an
end without a signal (a sweep, Redis restarted) at the next re-read. No database connection is held
while waiting: each read takes one from the pool and gives it back.

A wait holds a connection, so it first takes a slot of :class:`WaitSlots`: at most
``MAX_WAITS_PER_USER`` per user and ``MAX_WAITS`` in all (below ``MAX_CONNECTIONS``), long polls and
synchronous routes alike; a request that gets none is answered at once. A wait also ends early when
the client goes away and when the process begins to stop (:func:`stop_waiting`, on SIGTERM), so an
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
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from litestar import Request
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

from api.cancellation import cancel_pending_job
from api.final_signals import FinalSignals
from api.limits import RateLimiter
from core.errors import NotFound
from core.rows import BatchRow, JobRow
from core.settings import Settings
from db import batches, jobs

log = logging.getLogger("bgremover.api")

MAX_WAIT_S = 30.0
"""The longest ``?wait=`` a request may ask for: below common proxy and client read timeouts (60 s)."""

CLIENT_GONE_STATUS = 499
"""What a request whose client went away is logged with (nginx's "client closed request"); nobody reads it."""

SLOT_RETRY_AFTER_S = 5
"""``Retry-After`` of a request refused a slot: waits end when their jobs do, typically within seconds."""


class SlotRefusal(enum.Enum):
    USER_FULL = "user_full"
    """The user already holds ``MAX_WAITS_PER_USER`` waits in this process."""
    SERVER_FULL = "server_full"
    """The process holds ``MAX_WAITS`` waits."""
    STOPPING = "stopping"
    """The process is shutting down."""


@dataclass(frozen=True, slots=True)
class Slot:
    refusal: SlotRefusal | None

    @property
    def granted(self) -> bool:
        return self.refusal is None


class WaitSlots:
    """The waits one API process holds (``app.state.wait_slots``), per user and in all."""

    def __init__(self, settings: Settings) -> None:
        self.per_user = settings.max_waits_per_user
        # a fifth of the connections stays for everything that does not wait (submissions, plain polls)
        self.total = max(1, min(settings.max_waits, settings.max_connections * 4 // 5))
        self._held: dict[str, int] = defaultdict(int)
        self._count = 0
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Every wait ends now (with a retryable answer) and no new one starts."""
        self._stopping.set()

    async def until_stopping(self) -> None:
        await self._stopping.wait()

    @contextlib.contextmanager
    def slot(self, user_id: str) -> Iterator[Slot]:
        """A granted slot for the block, or the reason there is none (answer at once, without waiting)."""
        if self.stopping:
            yield Slot(SlotRefusal.STOPPING)
            return
        if self._held[user_id] >= self.per_user:
            yield Slot(SlotRefusal.USER_FULL)
            return
        if self._count >= self.total:
            yield Slot(SlotRefusal.SERVER_FULL)
            return
        self._held[user_id] += 1
        self._count += 1
        try:
            yield Slot(None)
        finally:
            self._count -= 1
            self._held[user_id] -= 1
            if not self._held[user_id]:
                del self._held[user_id]


_LIVE: set[WaitSlots] = set()


@contextlib.contextmanager
def stopping_with_the_server(slots: WaitSlots) -> Iterator[None]:
    """While the app runs (its lifespan), :func:`stop_waiting` reaches its waits."""
    _LIVE.add(slots)
    try:
        yield
    finally:
        _LIVE.discard(slots)


def stop_waiting() -> None:
    """``python -m api.server`` calls this when it begins to stop: the server waits for every open
    request before it exits, so every wait in this process ends now."""
    for slots in list(_LIVE):
        slots.stop()


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
    request: Request[Any, Any, Any], kind: str, object_id: object, read: Callable[[], Awaitable[R]], timeout_s: float
) -> Waited[R]:
    signals: FinalSignals = request.app.state.final_signals
    slots: WaitSlots = request.app.state.wait_slots
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


async def wait_until_final(request: Request[Any, Any, Any], job_id: uuid.UUID, timeout_s: float) -> Waited[JobRow]:
    """The caller's job once final, or as it is when ``timeout_s`` ran out, the client went away or the
    process began to stop (``end`` says which)."""
    user_id: str = request.user.user_id

    async def read() -> JobRow:
        row = await jobs.get_job(job_id, user_id)
        if row is None:
            raise NotFound(f"No job {job_id}.", resource="job")
        return row

    return await _wait(request, "job", job_id, read, timeout_s)


async def wait_until_batch_final(
    request: Request[Any, Any, Any], batch: BatchRow, timeout_s: float
) -> Waited[BatchRow]:
    """The batch's row once final (its ZIP built), or as it is when the wait ended early."""
    user_id: str = request.user.user_id

    async def read() -> BatchRow:
        row = await batches.get_batch(batch.id, user_id)
        if row is None:
            raise NotFound(f"No batch {batch.id}.", resource="batch")
        return row

    if not batch.unfinished or timeout_s <= 0:
        return Waited(batch, WaitEnd.FINAL if not batch.unfinished else WaitEnd.TIMED_OUT, 0.0)
    return await _wait(request, "batch", batch.id, read, timeout_s)


def forget_body(request: Request[Any, Any, Any]) -> None:
    """Drop the request's body and what was parsed from it (JSON, form fields), which Litestar keeps
    for the whole request: a synchronous route waits with its job's id, not with the upload."""
    state = ScopeState.from_scope(request.scope)
    state.body = state.json = state.form = state.msgpack = Empty
    # the Request object caches them again, in slots of its own
    request._body = request._json = request._form = Empty
    with contextlib.suppress(AttributeError):
        request._msgpack = Empty


async def cancel_abandoned(request: Request[Any, Any, Any], waited: Waited[JobRow], reason: str) -> JobRow | None:
    """Cancel and refund the job of a wait that timed out or lost its client, if no worker has it yet.

    The refund would make such a request free, and so a free way to hold a connection: it counts against
    the user's rate limit instead, as many requests as the rate allows in the time it was held."""
    row = waited.row
    cancelled = await cancel_pending_job(row.id, row.user_id, request.app.state.storage, reason=reason)
    if cancelled is not None:
        limiter: RateLimiter = request.app.state.rate_limiter
        await limiter.charge_held_time(request.app.state.redis, row.user_id, waited.held_s)
    return cancelled
