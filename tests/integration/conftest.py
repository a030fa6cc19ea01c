from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq import Worker, create_pool
from arq.connections import ArqRedis, RedisSettings
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from engine.pipeline import Engine
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


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    """Every installed tier, loaded once for the whole run (as a worker does once per process)."""
    return Engine.load(settings)


async def wait_started(worker: Worker, task: asyncio.Task[None]) -> None:
    for _ in range(600):
        if worker.ctx.get("started"):
            return
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    raise TimeoutError("worker did not start")


@pytest.fixture
async def running_worker(settings: Settings, arq_redis: ArqRedis, engine: Engine) -> AsyncIterator[dict[str, Any]]:
    """A real arq worker consuming the run's queue in this event loop; yields its ctx."""
    worker = create_worker(settings, handle_signals=False, ctx={"engine": engine})
    task = asyncio.create_task(worker.async_run())
    await wait_started(worker, task)
    try:
        yield worker.ctx
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()
