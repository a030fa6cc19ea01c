"""What a worker process does when it starts and stops: identity, heartbeat, storage, the engine and
the webhook worker beside it (:mod:`worker.webhook_worker`).

The engine (one ONNX session per model) is created here, once per process, never at import;
inference runs on a thread pool as wide as ``WORKER_CONCURRENCY``.
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

from redis.asyncio import Redis

from core.heartbeats import beat, forget
from core.settings import Settings, get_settings
from core.storage import LocalStorage
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
    ctx["settings"] = settings
    worker_id = ctx.get("worker_id") or new_worker_id()
    ctx["worker_id"] = worker_id
    ctx.setdefault("storage", LocalStorage(settings.storage_dir))
    if "engine" not in ctx:
        from engine.pipeline import Engine

        engine = await asyncio.to_thread(Engine.load, settings, settings.worker_tier_list)
        await asyncio.to_thread(engine.warm_up)
        ctx["engine"] = engine
    loaded = [tier for tier, ok in ctx["engine"].available_tiers().items() if ok]
    if not loaded:
        log.error("worker %s has no tier available: run `make models`", worker_id)
    ctx["executor"] = ThreadPoolExecutor(max_workers=max(1, settings.worker_concurrency), thread_name_prefix="infer")
    redis: Redis = ctx["redis"]
    await beat(redis, settings.heartbeat_key, worker_id, settings.heartbeat_ttl_s)
    ctx["heartbeat_task"] = asyncio.create_task(_heartbeat_loop(redis, settings, worker_id))
    webhooks = WebhookWorker(settings)
    webhooks.start()
    ctx["webhooks"] = webhooks
    ctx["started"] = True
    log.info("worker %s started on queue %s with tiers %s", worker_id, settings.queue_name, ", ".join(loaded) or "none")


async def shutdown(ctx: dict[str, Any]) -> None:
    webhooks: WebhookWorker | None = ctx.pop("webhooks", None)
    if webhooks is not None:
        # In burst mode every job is done by now, so every delivery is queued: send them all (tests rely
        # on it); a worker told to stop leaves undelivered ones queued for the next.
        await webhooks.stop(drain=bool(ctx.get("burst")))
    task: asyncio.Task[None] | None = ctx.pop("heartbeat_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    executor: ThreadPoolExecutor | None = ctx.pop("executor", None)
    if executor is not None:
        executor.shutdown(wait=True)
    settings: Settings = ctx["settings"]
    with contextlib.suppress(Exception):
        await forget(ctx["redis"], settings.heartbeat_key, ctx["worker_id"])
    log.info("worker %s stopped", ctx.get("worker_id"))
