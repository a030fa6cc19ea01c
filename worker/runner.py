"""Building an arq ``Worker`` from our settings (a plain function instead of a settings class, so tests
and the CLI share it)."""

from __future__ import annotations

import logging
from typing import Any

from arq import Worker, cron, func
from arq.connections import ArqRedis, RedisSettings

from core.settings import Settings
from core.storage import open_storage
from core.tasks import Task
from engine.inference import available_cores
from engine.model_slots import run_plan
from worker.batch_zip import build_batch_zip
from worker.functions import forward_to_webhook_queue, ping
from worker.lifecycle import shutdown, startup
from worker.processing import run_process_job
from worker.sweeps import requeue_lost_jobs, retention_sweep

log = logging.getLogger("bgremover.worker")


def functions(settings: Settings) -> list[Any]:
    return [
        func(run_process_job, name=Task.PROCESS_JOB, max_tries=settings.job_max_tries, timeout=settings.job_timeout_s),
        # No function may have a longer timeout than process_job: arq keeps a crashed job locked for
        # the longest timeout + 10 s (our sweep takes over a dead worker's jobs much sooner).
        func(build_batch_zip, name=Task.BUILD_BATCH_ZIP, max_tries=5, timeout=settings.job_timeout_s),
        # Deliveries run on the webhook queue (worker.webhook_worker); ones an older release queued here move there.
        func(forward_to_webhook_queue, name=Task.DELIVER_WEBHOOK, max_tries=3, timeout=30),
        func(ping, name=Task.PING),
    ]


def cron_jobs(settings: Settings) -> list[Any]:
    step = max(1, min(settings.sweep_interval_s, 60))
    # arq locks every job it starts for its longest timeout of any function, cron jobs included, + 10 s
    # (worker.sweeps.arq_lock_s): a 600 s retention sweep locked a crashed worker's images for 10 minutes.
    # A retention sweep cut short resumes where it stopped at the next run.
    timeout = settings.job_timeout_s
    return [
        cron(
            requeue_lost_jobs,
            second=set(range(0, 60, step)),
            run_at_startup=True,
            unique=True,
            timeout=min(120, timeout),
        ),
        cron(retention_sweep, minute=7, second=0, run_at_startup=True, unique=True, timeout=timeout),
    ]


def create_worker(
    settings: Settings,
    *,
    burst: bool = False,
    redis_pool: ArqRedis | None = None,
    handle_signals: bool = True,
    ctx: dict[str, Any] | None = None,
) -> Worker:
    settings.check_production(log)
    storage = open_storage(settings)  # a STORAGE_URL that cannot work stops here, before Redis or the models
    return Worker(
        functions=functions(settings),
        cron_jobs=cron_jobs(settings),
        queue_name=settings.queue_name,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        redis_pool=redis_pool,
        on_startup=startup,
        on_shutdown=shutdown,
        ctx={"settings": settings, "storage": storage, "burst": burst, **(ctx or {})},
        # as many images in the model as it runs at once, one more being decoded or encoded around them
        # (the executor), and one extra slot that keeps ZIPs and sweeps moving.
        max_jobs=run_plan(settings, available_cores()).slots + 2,
        job_timeout=settings.job_timeout_s,
        keep_result=3600,
        # arq's own health key, for `arq --check`; our readiness uses core.heartbeats instead.
        health_check_interval=30,
        allow_abort_jobs=True,
        job_completion_wait=settings.shutdown_grace_s,
        burst=burst,
        # arq looks at the queue this often (no blocking pop): 0.5 s, its default, left a lone image waiting
        # 0.25 s on average and the worker idle between a closed-loop client's images
        poll_delay=settings.worker_poll_delay_s,
        handle_signals=handle_signals,
    )
