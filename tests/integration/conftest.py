from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from worker.runner import create_worker

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(migrated_db: str, settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        yield pool
    finally:
        await pool.delete(settings.heartbeat_key)
        await pool.aclose()


@pytest.fixture
async def running_worker(settings: Settings, arq_redis: ArqRedis) -> AsyncIterator[dict[str, object]]:
    """A real arq worker consuming the run's queue in this event loop; yields its ctx."""
    worker = create_worker(settings, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    for _ in range(100):
        if "worker_id" in worker.ctx:
            break
        await asyncio.sleep(0.05)
    try:
        yield worker.ctx
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()
