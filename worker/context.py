"""What every task of this worker process shares, typed: built once by ``startup``, read by each task.

arq hands tasks a plain dict; :func:`context` is the one place that reaches into it, so a task reads
``context(ctx).storage`` instead of an untyped ``ctx["storage"]``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis

from core.settings import Settings
from core.storage import Storage
from engine.pipeline import Engine

if TYPE_CHECKING:  # the webhook worker's tasks import this module
    from worker.metrics import MetricsServer
    from worker.webhook_worker import WebhookWorker

_KEY = "bgremover"


@dataclass
class WorkerContext:
    settings: Settings
    redis: ArqRedis
    storage: Storage
    engine: Engine
    executor: ThreadPoolExecutor
    """Images are processed here, off the event loop: one more at a time than the model runs the engine
    does at once (``Engine.model_slots``)."""
    worker_id: str
    heartbeat: asyncio.Task[None] | None = None
    webhooks: WebhookWorker | None = None
    """Deliveries, on their own queue and concurrency (:mod:`worker.webhook_worker`)."""
    metrics: MetricsServer | None = None
    """The Prometheus endpoint, when ``WORKER_METRICS_PORT`` is set."""
    db_pool: bool = False
    """This process's PostgreSQL pool was started (``DB_POOL_MAX`` > 0) and is closed at shutdown."""


def install(ctx: dict[str, Any], worker: WorkerContext) -> None:
    ctx[_KEY] = worker
    ctx["worker_id"] = worker.worker_id  # arq-level callers (ping, tests) read it without our types


def context(ctx: dict[str, Any]) -> WorkerContext:
    worker = ctx[_KEY]
    assert isinstance(worker, WorkerContext), "the worker's startup did not run"
    return worker


def installed(ctx: dict[str, Any]) -> WorkerContext | None:
    worker = ctx.get(_KEY)
    return worker if isinstance(worker, WorkerContext) else None
