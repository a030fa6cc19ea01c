"""Worker heartbeats in Redis: a sorted set of worker ids scored by the time of their last beat.

Readiness counts the workers seen within ``heartbeat_ttl_s``; a crashed worker simply stops
beating and drops out, a cleanly stopped one removes itself.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis


async def beat(redis: Redis, key: str, worker_id: str, ttl_s: int) -> None:
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {worker_id: now})
        # Forget workers that have been silent for long, so the set cannot grow without bound.
        pipe.zremrangebyscore(key, "-inf", now - 10 * ttl_s)
        await pipe.execute()


async def forget(redis: Redis, key: str, worker_id: str) -> None:
    await redis.zrem(key, worker_id)


async def live_workers(redis: Redis, key: str, ttl_s: int) -> list[str]:
    members = await redis.zrangebyscore(key, time.time() - ttl_s, "+inf")
    return [m.decode() if isinstance(m, bytes) else str(m) for m in members]
