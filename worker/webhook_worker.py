"""The webhook worker: a second arq worker inside every worker process, consuming only the webhook
queue, with its own concurrency (``WEBHOOK_CONCURRENCY``).

Deliveries used to run in the inference worker's slots (two per process): a receiver that answered
slowly held a slot for up to 10 s an attempt, for up to 8 attempts, so everyone's images waited and the
queue deepened until ``queue_full``. Here deliveries only ever wait for each other, each attempt is
bounded by ``WEBHOOK_TIMEOUT_S``, and the backlog of retries is capped (:mod:`worker.notifications`).

Started and stopped by the main worker's start-up and shut-down hooks (:mod:`worker.lifecycle`), so
every way of running a worker (``python -m worker``, tests, burst mode) runs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from arq import Worker, cron, func
from arq.connections import RedisSettings

from core.settings import Settings
from core.tasks import Task, webhook_queue
from core.webhooks import MAX_ATTEMPTS, DnsLookups
from worker.notifications import WEBHOOK_LOOKUPS, deliver_webhook, purge_delivery_log, webhook_lookups

log = logging.getLogger("bgremover.worker")

_RESTART_DELAY_MAX_S = 30.0


def create_webhook_worker(settings: Settings, *, burst: bool = False, lookups: DnsLookups | None = None) -> Worker:
    return Worker(
        functions=[
            # arq's own timeout is only a backstop: deliver() bounds the attempt, the rest is a few queries.
            func(
                deliver_webhook,
                name=Task.DELIVER_WEBHOOK,
                max_tries=MAX_ATTEMPTS,
                timeout=settings.webhook_timeout_s + 10,
            ),
        ],
        cron_jobs=[cron(purge_delivery_log, minute=37, second=0, unique=True, timeout=300)],
        queue_name=webhook_queue(settings.queue_name),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        ctx={"settings": settings, WEBHOOK_LOOKUPS: lookups or webhook_lookups(settings)},
        max_jobs=max(1, settings.webhook_concurrency),
        keep_result=3600,
        health_check_interval=30,
        burst=burst,
        poll_delay=0.5,
        handle_signals=False,
    )


class WebhookWorker:
    """Runs :func:`create_webhook_worker` in the current event loop, restarting it if it fails (a Redis
    hiccup must not leave the process without deliveries while its inference goes on)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # one set for the process, kept across restarts: a lookup still hanging keeps its user's claim
        self.lookups = webhook_lookups(settings)
        self.worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None
        self._draining = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def _run(self) -> None:
        delay = 1.0
        while True:
            worker = self.worker = create_webhook_worker(self.settings, burst=self._draining, lookups=self.lookups)
            try:
                await worker.async_run()
                return  # only a draining (burst) worker ends by itself
            except Exception:
                log.exception("webhook worker failed; restarting in %.0f s", delay)
            finally:
                with contextlib.suppress(Exception):  # Redis may be the reason it failed
                    await worker.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RESTART_DELAY_MAX_S)

    async def stop(self, *, drain: bool) -> None:
        """``drain``: deliver everything queued, retries included, before returning (burst mode). Otherwise
        stop taking deliveries, give those in flight one attempt's time, and leave the rest queued."""
        task = self._task
        if task is None:
            return
        if drain:
            self._draining = True
            if self.worker is not None:
                self.worker.burst = True
            with contextlib.suppress(Exception):
                await task
            return
        worker = self.worker
        if worker is not None:
            worker.allow_pick_jobs = False
            in_flight = [t for t in worker.tasks.values() if not t.done()]
            if in_flight:
                await asyncio.wait(in_flight, timeout=self.settings.webhook_timeout_s + 1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
