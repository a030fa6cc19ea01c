"""The slots that bound how many requests wait at once in one API process: at most
``MAX_WAITS_PER_USER`` per user and ``MAX_WAITS`` in all (below ``MAX_CONNECTIONS``), long polls and
synchronous routes alike (:mod:`api.job_wait` waits in them). A request that gets none is answered at
once; on SIGTERM every slot's wait ends (:func:`stop_waiting`)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from core.settings import Settings

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
    """The waits one API process holds, per user and in all."""

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


def server_stopping() -> bool:
    """Whether :func:`stop_waiting` was called: requests still running are then cancelled by the server
    after its grace period (``API_SHUTDOWN_GRACE_S``), before the app's lifespan ends."""
    return any(slots.stopping for slots in _LIVE)
