"""Building an arq ``Worker`` from our settings (a plain function instead of a settings class, so tests
and the CLI share it)."""

from __future__ import annotations

from typing import Any

from arq import Worker
from arq.connections import ArqRedis, RedisSettings

from core.settings import Settings
from worker.functions import ping
from worker.lifecycle import startup, shutdown

FUNCTIONS: list[Any] = [ping]


def create_worker(
    settings: Settings,
    *,
    burst: bool = False,
    redis_pool: ArqRedis | None = None,
    handle_signals: bool = True,
    ctx: dict[str, Any] | None = None,
) -> Worker:
    return Worker(
        functions=FUNCTIONS,
        queue_name=settings.queue_name,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        redis_pool=redis_pool,
        on_startup=startup,
        on_shutdown=shutdown,
        ctx={"settings": settings, **(ctx or {})},
        max_jobs=max(1, settings.worker_concurrency),
        job_timeout=600,
        keep_result=3600,
        # arq's own health key, for `arq --check`; our readiness uses worker.heartbeat instead.
        health_check_interval=30,
        allow_abort_jobs=True,
        burst=burst,
        poll_delay=0.5,
        handle_signals=handle_signals,
    )
