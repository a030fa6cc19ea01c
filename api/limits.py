"""Fair use: a per-user token bucket in Redis, and a bound on the queue.

The bucket is one Lua script (atomic across API processes). When Redis is unreachable the limiter
lets requests through: rate limiting must never be the reason the service is down.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from api.metrics import count_refusal
from core.errors import QueueFull, RateLimited
from core.settings import Settings

log = logging.getLogger("bgremover.api")

QUEUE_DEPTH_SEEN = "queue_depth_seen"
"""Request state: ``(depth, time.monotonic())`` as the rate limiter read them for this request."""
QUEUE_DEPTH_FRESH_S = 1.0
"""How old that reading may be and still stand for the queue (a large upload takes longer to arrive)."""


def queue_depth_seen(state: Any) -> int | None:
    """The depth read for this request before its body, if it was read less than a second ago."""
    seen = state.get(QUEUE_DEPTH_SEEN)
    if seen is None or time.monotonic() - seen[1] > QUEUE_DEPTH_FRESH_S:
        return None
    return int(seen[0])


# KEYS[1] bucket, KEYS[2] the queue; ARGV: capacity, refill per second, now (s), cost, forced (1: take the
# cost even from an empty bucket, down to -capacity). Returns {allowed, tokens*1000, wait_ms, queue depth}:
# the depth rides along so that an upload's look at Redis is one round trip, not two.
_TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local forced = tonumber(ARGV[5]) == 1
local floor = tonumber(ARGV[6])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if forced then
  tokens = math.max(floor, tokens - cost)
  allowed = 1
elseif tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
-- kept until the bucket is full again, from as deep a debt as it can hold
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - floor) / rate) + 1)
-- the queue's depth must never be the reason the bucket fails: -1 when it cannot be read
local depth = redis.pcall('ZCARD', KEYS[2])
if type(depth) ~= 'number' then depth = -1 end
return {allowed, math.floor(tokens * 1000), math.ceil(wait * 1000), depth}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    reset_s: int
    queue_depth: int | None
    """Images queued when the bucket was looked at (:func:`ensure_queue_has_room` takes it), if read."""

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._script: Any = None

    @property
    def enabled(self) -> bool:
        return self.settings.rate_limit_per_s > 0

    async def check(self, redis: Redis, user_id: str, cost: int = 1) -> Decision | None:
        """None when disabled or when Redis cannot answer (fail open)."""
        if not self.enabled:
            return None
        return await self._take(redis, user_id, cost, forced=False)

    @property
    def debt_floor(self) -> int:
        """How deep refunded waits may put a user's bucket: one burst for each wait they may hold at once.
        A floor of one burst made twenty waits held together cost what two held one after the other did."""
        return -self.settings.rate_limit_burst * max(1, self.settings.max_waits_per_user)

    async def charge_held_time(self, redis: Redis, user_id: str, held_s: float) -> None:
        """Charge a request that held a connection for ``held_s`` and was then refunded (a synchronous
        wait that timed out or lost its client) as many requests as the rate allows in that time, at
        most one burst, even into debt (down to :attr:`debt_floor`): the refund must not make holding
        connections free. One such wait costs an honest client a burst; a user's twenty at once cost
        twenty bursts, a ~100 s pause at the defaults."""
        if not self.enabled:
            return
        cost = min(self.settings.rate_limit_burst, max(1, math.ceil(held_s * self.settings.rate_limit_per_s)))
        await self._take(redis, user_id, cost, forced=True)

    async def _take(self, redis: Redis, user_id: str, cost: int, *, forced: bool) -> Decision | None:
        capacity = max(self.settings.rate_limit_burst, cost)
        rate = self.settings.rate_limit_per_s
        try:
            if self._script is None:
                self._script = redis.register_script(_TOKEN_BUCKET)
            allowed, tokens_milli, wait_ms, depth = await self._script(
                keys=[f"{self.settings.queue_name}:ratelimit:{user_id}", self.settings.queue_name],
                args=[capacity, rate, time.time(), cost, int(forced), self.debt_floor],
            )
        except Exception as exc:
            log.warning("rate limiter unavailable (%r); letting the request through", exc)
            return None
        remaining = max(0, int(tokens_milli) // 1000)
        return Decision(
            allowed=bool(allowed),
            limit=capacity,
            remaining=remaining,
            retry_after_s=max(1, math.ceil(int(wait_ms) / 1000)) if not allowed else 0,
            reset_s=math.ceil((capacity - tokens_milli / 1000) / rate),
            queue_depth=int(depth) if int(depth) >= 0 else None,
        )

    def raise_if_denied(self, decision: Decision | None) -> None:
        if decision is not None and not decision.allowed:
            count_refusal(RateLimited.code)
            raise RateLimited(
                f"Rate limit of {self.settings.rate_limit_per_s:g} requests/s (burst {decision.limit}) exceeded; "
                f"retry in {decision.retry_after_s} s.",
                retry_after=decision.retry_after_s,
                limit=decision.limit,
            )


async def ensure_queue_has_room(redis: Redis, settings: Settings, images: int, *, seen: int | None = None) -> None:
    """Refuse new work with 503 + Retry-After while the queue is deeper than it can drain in time.

    ``seen``: the depth the rate limiter read for this request (:func:`queue_depth_seen`), if it did."""
    if settings.max_queue_depth <= 0:
        return
    if seen is not None:
        depth = seen
    else:
        try:
            depth = int(await redis.zcard(settings.queue_name))
        except Exception as exc:  # Redis down: jobs still land in PostgreSQL and the sweep enqueues them
            log.warning("queue depth unknown (%r)", exc)
            return
    if depth + images > settings.max_queue_depth:
        count_refusal(QueueFull.code)
        raise QueueFull(
            f"The service is busy ({depth} images queued); try again shortly.",
            retry_after=30,
            queueDepth=depth,
        )
