"""The slots that bound how many requests wait at once: at most ``MAX_WAITS_PER_USER`` per user across
every API process (counted in Redis) and ``MAX_WAITS`` in all in each process (below its
``MAX_CONNECTIONS``), long polls and synchronous routes alike (:mod:`api.job_wait` waits in them). A
request that gets none is answered at once; on SIGTERM every slot's wait ends (:func:`stop_waiting`).

A user's slots are one Redis sorted set: a member per wait, scored with the time it lapses by itself
(:data:`HOLD_MARGIN_S` after the longest wait), so the slots of an API process that died are free
again within minutes without anyone releasing them. When Redis cannot answer, the bound falls back to
the process's own count: waits stay bounded, per process, and the service stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from core.settings import Settings

log = logging.getLogger("bgremover.api")

SLOT_RETRY_AFTER_S = 5
"""``Retry-After`` of a request refused a slot: waits end when their jobs do, typically within seconds."""

HOLD_MARGIN_S = 120.0
"""How long after the longest wait (remove.bg's or Lumiku's) a slot nobody released lapses by itself: the
upload before the wait and the shutdown grace fit in it."""

# KEYS[1] the user's slots; ARGV: the cap, how long a slot may be held (ms), the new slot's id.
# Redis's own clock, so that API processes on hosts whose clocks differ agree on what has lapsed.
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class SlotRefusal(enum.Enum):
    USER_FULL = "user_full"
    """The user already holds ``MAX_WAITS_PER_USER`` waits (in all API processes)."""
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
    """The waits of one API process: per user (shared with the other processes through Redis) and in all."""

    def __init__(self, settings: Settings, *, hold_s: float | None = None) -> None:
        self.per_user = settings.max_waits_per_user
        # a fifth of the connections stays for everything that does not wait (submissions, plain polls)
        self.total = max(1, min(settings.max_waits, settings.max_connections * 4 // 5))
        longest = max(settings.removebg_wait_s, settings.lumiku_wait_s)
        self.hold_ms = round(1000 * (hold_s if hold_s is not None else longest + HOLD_MARGIN_S))
        self._prefix = f"{settings.queue_name}:waits:"
        self._claim: AsyncScript | None = None
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

    @contextlib.asynccontextmanager
    async def slot(self, redis: Redis, user_id: str) -> AsyncIterator[Slot]:
        """A granted slot for the block, or the reason there is none (answer at once, without waiting)."""
        if self.stopping:
            yield Slot(SlotRefusal.STOPPING)
            return
        # this process's own count first: it needs no round trip, and it is the bound when Redis is down
        if self._held[user_id] >= self.per_user:
            yield Slot(SlotRefusal.USER_FULL)
            return
        if self._count >= self.total:
            yield Slot(SlotRefusal.SERVER_FULL)
            return
        self._held[user_id] += 1
        self._count += 1
        try:
            shared = await self._claim_shared(redis, user_id)
            if isinstance(shared, SlotRefusal):
                yield Slot(shared)
                return
            try:
                yield Slot(None)
            finally:
                if shared is not None:
                    # shielded: a wait ended by cancellation (client gone, shutdown) still frees its slot
                    await asyncio.shield(self._release_shared(redis, user_id, shared))
        finally:
            self._count -= 1
            self._held[user_id] -= 1
            if not self._held[user_id]:
                del self._held[user_id]

    async def _claim_shared(self, redis: Redis, user_id: str) -> str | SlotRefusal | None:
        """The slot's id in Redis, ``USER_FULL`` when the user's slots are taken there (by any process),
        None when Redis cannot say."""
        member = uuid.uuid4().hex
        try:
            if self._claim is None:
                self._claim = redis.register_script(_CLAIM)
            claimed = await self._claim(
                keys=[self._prefix + user_id], args=[self.per_user, self.hold_ms, member], client=redis
            )
        except Exception as exc:
            log.warning("wait slots unavailable in Redis (%r); bounding waits per process only", exc)
            return None
        return member if int(claimed) else SlotRefusal.USER_FULL

    async def _release_shared(self, redis: Redis, user_id: str, member: str) -> None:
        try:
            await redis.zrem(self._prefix + user_id, member)
        except Exception as exc:  # the slot lapses by itself after hold_ms
            log.warning("could not release a wait slot in Redis (%r)", exc)


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
