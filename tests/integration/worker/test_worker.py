"""The worker starts, reports a heartbeat, consumes the queue and leaves cleanly."""

from __future__ import annotations

import asyncio
import contextlib

from arq.connections import ArqRedis
from arq.jobs import Job

from core.heartbeats import live_workers
from core.settings import Settings
from engine.pipeline import Engine
from tests.support.workers import wait_started
from worker.runner import create_worker


async def test_worker_heartbeat_job_round_trip_and_clean_shutdown(
    settings: Settings, arq_redis: ArqRedis, engine: Engine
) -> None:
    worker = create_worker(settings, handle_signals=False, ctx={"engine": engine})
    task = asyncio.create_task(worker.async_run())
    try:
        await wait_started(worker, task)
        worker_id = worker.ctx["worker_id"]
        assert worker_id in await live_workers(arq_redis, settings.heartbeat_key, settings.heartbeat_ttl_s)

        job = await arq_redis.enqueue_job("ping", "hello", _queue_name=settings.queue_name)
        assert isinstance(job, Job)
        result = await job.result(timeout=10)
        assert result == {"worker": worker_id, "payload": "hello"}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()
    assert worker_id not in await live_workers(arq_redis, settings.heartbeat_key, settings.heartbeat_ttl_s)
