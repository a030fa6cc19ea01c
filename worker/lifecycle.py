"""What a worker process does when it starts and stops: identity, heartbeat, storage and the engine.

The engine (one ONNX session per model) is created here, once per process, never at import;
images are processed on a thread pool one wider than the model runs it does at once
(:mod:`engine.model_slots`), so one image is decoded or encoded while the others are in the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis

from core.heartbeats import beat, forget
from core.metrics import process_exited
from core.settings import Settings, get_settings
from core.storage import open_storage
from db.pool import close_pool, start_pool
from engine.pipeline import Engine
from worker.context import WorkerContext, install, installed
from worker.metrics import serve, set_models
from worker.webhook_worker import WebhookWorker

log = logging.getLogger("bgremover.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def _heartbeat_loop(redis: Redis, settings: Settings, worker_id: str) -> None:
    while True:
        try:
            await beat(redis, settings.heartbeat_key, worker_id, settings.heartbeat_ttl_s)
        except Exception as exc:  # Redis hiccups must not kill the worker; readiness will notice the gap
            log.warning("heartbeat failed: %r", exc)
        await asyncio.sleep(settings.heartbeat_interval_s)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    worker_id = ctx.get("worker_id") or new_worker_id()
    given = ctx.get("engine")  # tests hand in an engine they loaded once
    if isinstance(given, Engine):
        engine = given
    else:
        engine = await asyncio.to_thread(Engine.load, settings, settings.worker_tier_list)
        await asyncio.to_thread(engine.warm_up)
    available = engine.available_tiers()
    set_models(available)
    loaded = [tier for tier, ok in available.items() if ok]
    if not loaded:
        log.error("worker %s has no tier available: run `make models`", worker_id)
    redis: ArqRedis = ctx["redis"]
    worker = WorkerContext(
        settings=settings,
        redis=redis,
        storage=ctx.get("storage") or open_storage(settings),
        engine=engine,
        executor=ThreadPoolExecutor(max_workers=engine.plan.slots + 1, thread_name_prefix="infer"),
        worker_id=worker_id,
    )
    if settings.db_pool_max > 0:
        try:
            # Without a pool every statement opens a connection (a PostgreSQL backend started and torn
            # down: several per image, CPU taken from the model on the same cores).
            await start_pool(min_size=settings.db_pool_opened(1), max_size=settings.db_pool_max)
            worker.db_pool = True
        except (OSError, TimeoutError) as exc:
            log.error("could not start the database pool (%s); using per-query connections", exc)
    await beat(redis, settings.heartbeat_key, worker_id, settings.heartbeat_ttl_s)
    worker.heartbeat = asyncio.create_task(_heartbeat_loop(redis, settings, worker_id))
    worker.metrics = serve(settings)
    worker.webhooks = WebhookWorker(settings)
    worker.webhooks.start()
    install(ctx, worker)
    ctx["started"] = True
    log.info("worker %s started on queue %s with tiers %s", worker_id, settings.queue_name, ", ".join(loaded) or "none")


async def shutdown(ctx: dict[str, Any]) -> None:
    worker = installed(ctx)
    if worker is None:  # startup failed before it finished
        return
    if worker.webhooks is not None:
        # In burst mode every job is done by now, so every delivery is queued: send them all (tests rely
        # on it); a worker told to stop leaves undelivered ones queued for the next.
        await worker.webhooks.stop(drain=bool(ctx.get("burst")))
    if worker.heartbeat is not None:
        worker.heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker.heartbeat
    worker.executor.shutdown(wait=True)
    if worker.metrics is not None:
        worker.metrics.stop()
    if worker.db_pool:
        await close_pool()
    process_exited(os.getpid())
    with contextlib.suppress(Exception):
        await forget(worker.redis, worker.settings.heartbeat_key, worker.worker_id)
    log.info("worker %s stopped", worker.worker_id)
