"""Enqueuing job ids for the workers, in fair order (:func:`core.fair_order.enqueue_fairly`). PostgreSQL is the
source of truth: a failed enqueue is logged and left to the worker sweep, never turned into an error for a
request that was already accepted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from core.fair_order import FairImage, Lane, enqueue_fairly, turn_cost_ms
from core.settings import Settings

log = logging.getLogger("bgremover.api")


class Enqueuer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ArqRedis | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> ArqRedis:
        async with self._lock:
            if self._pool is None:
                settings = RedisSettings.from_dsn(self.settings.redis_url)
                settings.conn_timeout = 2
                settings.conn_retries = 0
                self._pool = await create_pool(settings)
            return self._pool

    async def enqueue_jobs(
        self, user_id: str, lane: Lane, unit_credits: int, jobs: Sequence[tuple[object, float]]
    ) -> int:
        """Enqueue ``process_job`` for each ``(job id, megapixels)`` of one user's submission, each priced
        by its tier and size on the user's clock; returns how many arq accepted."""
        images = [FairImage(str(job_id), turn_cost_ms(unit_credits, megapixels)) for job_id, megapixels in jobs]
        try:
            pool = await self.pool()
            return await enqueue_fairly(pool, self.settings.queue_name, user_id, lane, images)
        except Exception as exc:  # Redis down: the sweep re-enqueues from PostgreSQL
            log.warning("could not enqueue %d job(s) (%r); the sweep will", len(images), exc)
            return 0

    async def queue_depth(self) -> int:
        pool = await self.pool()
        return int(await pool.zcard(self.settings.queue_name))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
