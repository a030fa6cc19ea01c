"""``python -m worker.healthcheck``: exit 0 when a worker on this host has a fresh heartbeat.

Compose runs it inside the worker container, whose hostname starts every worker id it owns.
"""

from __future__ import annotations

import asyncio
import socket
import sys

from redis.asyncio import Redis

from core.heartbeats import live_workers
from core.settings import get_settings


async def _check() -> int:
    settings = get_settings()
    redis = Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        workers = await live_workers(redis, settings.heartbeat_key, settings.heartbeat_ttl_s)
    finally:
        await redis.aclose()
    mine = [w for w in workers if w.startswith(socket.gethostname() + ":")]
    print(f"{len(mine)} live worker(s) on this host, {len(workers)} in all")
    return 0 if mine else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(_check()))
