"""Fixtures for Redis, the run's arq queue, the engine and real arq workers (registered in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from core.settings import Settings
from core.tasks import webhook_queue
from engine.pipeline import Engine
from tests.support.workers import wait_until_enqueued, worker_running
from worker.runner import create_worker


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        yield pool
    finally:
        await pool.delete(settings.heartbeat_key)
        await pool.aclose()


@pytest.fixture
async def queue(settings: Settings, arq_redis: ArqRedis, migrated_db: str) -> ArqRedis:
    """This run's queues (jobs and webhooks), empty (no leftovers from earlier tests); other runs sharing
    Redis are untouched."""
    for name in (settings.queue_name, webhook_queue(settings.queue_name)):
        queued = await arq_redis.zrange(name, 0, -1)
        ids = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in queued]
        keys = [f"arq:{kind}:{job_id}" for job_id in ids for kind in ("job", "in-progress", "retry", "result")]
        if keys:
            await arq_redis.delete(*keys)
        await arq_redis.delete(name)
    return arq_redis


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    """Every installed tier, loaded once for the whole run (as a worker does once per process)."""
    return Engine.load(settings)


@pytest.fixture
async def running_worker(settings: Settings, arq_redis: ArqRedis, engine: Engine) -> AsyncIterator[dict[str, Any]]:
    """A real arq worker consuming the run's queue in this event loop; yields its ctx."""
    async with worker_running(settings, engine) as ctx:
        yield ctx


@pytest.fixture
def run_worker(
    settings: Settings, queue: ArqRedis, engine: Engine, migrated_db: str
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Run a real worker in burst mode until the queue is empty; returns its ctx."""

    async def run(worker_settings: Settings | None = None) -> dict[str, Any]:
        await wait_until_enqueued(queue, worker_settings or settings, migrated_db)
        worker = create_worker(worker_settings or settings, burst=True, handle_signals=False, ctx={"engine": engine})
        try:
            await worker.async_run()
        finally:
            await worker.close()
        return worker.ctx

    return run
