"""The slots that bound how many requests wait at once: at most ``MAX_WAITS_PER_USER`` per user across
every API process (counted in Redis) and ``MAX_WAITS`` in all in each process (below its
``MAX_CONNECTIONS``), long polls and synchronous routes alike (:mod:`api.job_wait` waits in them). A
request that gets none is answered at once; on SIGTERM every slot's wait ends (:func:`stop_waiting`).

A user's slots are one Redis sorted set: a member per wait, scored with the time its lease runs out.
The holder renews the lease while it waits, and removes the member when the wait ends, however it
ends; a member whose holder died or lost Redis is free again within :data:`LEASE_S`. When Redis
cannot answer, the bound falls back to the process's own count: waits stay bounded, per process, and
the service stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from core.settings import Settings

log = logging.getLogger("bgremover.api")

SLOT_RETRY_AFTER_S = 5
"""``Retry-After`` of a request refused a slot: waits end when their jobs do, typically within seconds."""

LEASE_S = 30.0
"""How long a slot counts in Redis without being renewed: a dead process's slots are free again after it."""

# KEYS[1] the user's slots; ARGV: the cap (0: renew ARGV[3] only, if it is still there), the lease (ms),
# the slot's id. Redis's own clock, so that API processes on hosts whose clocks differ agree on what lapsed.
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
if cap == 0 then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= cap then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class SlotRefusal(enum.Enum):
    USER_FULL = "user_full"
    """The user already holds ``MAX_WAITS_PER_USER`` waits (in all API processes; in this one while Redis is
    unreachable)."""
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

    def __init__(self, settings: Settings, *, lease_s: float = LEASE_S) -> None:
        self.per_user = settings.max_waits_per_user
        # a fifth of the connections stays for everything that does not wait (submissions, plain polls)
        self.total = max(1, min(settings.max_waits, settings.max_connections * 4 // 5))
        self.lease_s = lease_s
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
        member = uuid.uuid4().hex
        claimed: bool | None = None
        try:
            claimed = await self._claim_shared(redis, user_id, member)
            if claimed is False:
                yield Slot(SlotRefusal.USER_FULL)
                return
            renewing = asyncio.create_task(self._renew(redis, user_id, member)) if claimed else None
            try:
                yield Slot(None)
            finally:
                if renewing is not None:
                    renewing.cancel()
        finally:
            self._count -= 1
            self._held[user_id] -= 1
            if not self._held[user_id]:
                del self._held[user_id]
            if claimed is not False:
                # granted, or unknown: a claim that timed out or was cancelled may still have run in Redis.
                # Shielded, so that a wait ended by cancellation (client gone, shutdown) frees it too.
                await asyncio.shield(self._release_shared(redis, user_id, member))

    def _run_claim(self, redis: Redis, user_id: str, cap: int, member: str) -> Awaitable[Any]:
        if self._claim is None:
            self._claim = redis.register_script(_CLAIM)
        lease_ms = round(self.lease_s * 1000)
        return self._claim(keys=[self._prefix + user_id], args=[cap, lease_ms, member], client=redis)

    async def _claim_shared(self, redis: Redis, user_id: str, member: str) -> bool | None:
        """Whether Redis granted the slot (False: the user's slots are taken, by any process), or None
        when Redis cannot say."""
        try:
            return bool(int(await self._run_claim(redis, user_id, self.per_user, member)))
        except Exception as exc:
            log.warning("wait slots unavailable in Redis (%r); bounding waits per process only", exc)
            return None

    async def _renew(self, redis: Redis, user_id: str, member: str) -> None:
        """Keep the slot's lease while the wait lasts (a slow upload included): thrice per lease."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self._run_claim(redis, user_id, 0, member)
            except Exception as exc:  # the next renewal may get through; the lease lasts two more
                log.warning("could not renew a wait slot in Redis (%r)", exc)

    async def _release_shared(self, redis: Redis, user_id: str, member: str) -> None:
        try:
            await redis.zrem(self._prefix + user_id, member)
        except Exception as exc:  # its lease runs out by itself
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
