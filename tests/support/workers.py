"""Waiting on arq workers run in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from arq import Worker
from arq.connections import ArqRedis

from core.settings import Settings
from core.tasks import job_arq_id
from engine.pipeline import Engine
from worker.runner import create_worker


async def wait_started(worker: Worker, task: asyncio.Task[None]) -> None:
    for _ in range(600):
        if worker.ctx.get("started"):
            return
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    raise TimeoutError("worker did not start")


@contextlib.asynccontextmanager
async def worker_running(settings: Settings, engine: Engine) -> AsyncIterator[dict[str, Any]]:
    """A real arq worker (and its webhook worker) consuming the run's queues in this event loop until the
    block ends; yields its ctx."""
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


async def wait_until_enqueued(redis: ArqRedis, settings: Settings, dsn: str, timeout_s: float = 3.0) -> None:
    """The API enqueues after sending its answer: give those enqueues a moment to land, so a burst
    worker does not find the queue empty and leave. Pending jobs Redis never gets (a test that
    simulates a Redis loss) are left to the worker's sweep after the timeout."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id FROM background_removal_job "
            "WHERE status = 'pending' AND created_at > now() - interval '10 seconds'"
        )
    finally:
        await conn.close()
    pending = [r["id"] for r in rows]
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        scores = [await redis.zscore(settings.queue_name, job_arq_id(job_id)) for job_id in pending]
        if all(score is not None for score in scores):
            return
        await asyncio.sleep(0.05)
