"""Periodic sweeps: PostgreSQL is the source of truth, Redis may forget.

- ``requeue_lost_jobs``: a job pending in PostgreSQL but unknown to Redis (Redis restarted, an
  enqueue failed) is enqueued again, and one that a dead worker took from the queue but never started
  is released; a job ``processing`` that nobody holds any more (its worker
  stopped beating, or arq gave up on it after a timeout) is released to another worker, or failed and
  refunded once it has used all its tries; a batch whose images are all done but whose ZIP was never
  built gets it built; a finished job or batch whose webhook was never attempted gets it sent.
- ``retention_sweep``: results, inputs and ZIPs older than the retention period are deleted;
  subscriptions past their end are marked expired; old idempotency records are purged.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from core.heartbeats import live_workers
from core.settings import Settings
from core.storage import Storage
from core.tasks import (
    enqueue_batch_zip,
    enqueue_process_job,
    enqueue_webhook,
    in_progress_key,
    job_arq_id,
    result_key,
)
from db import batches, idempotency, jobs
from db.tables import BackgroundRemoverSubscription
from worker.context import context
from worker.processing import fail_stuck_job

log = logging.getLogger("bgremover.worker")


def arq_lock_s(settings: Settings) -> int:
    """How long arq locks a job it starts: the longest timeout of its functions + 10 s (arq's rule);
    no function's timeout exceeds the job timeout (worker.runner)."""
    return settings.job_timeout_s + 10


async def release_unclaimed(redis: ArqRedis, settings: Settings, job_id: object) -> bool:
    """A job still pending whose arq lock is older than the requeue grace: a worker took it from the
    queue and died before it claimed it in PostgreSQL (a worker claims a job moments after taking it),
    and arq would keep it locked until the lock expires. Releasing it is safe even if that worker lives:
    the claim is a conditional update, so of two runs only one processes and charges."""
    key = in_progress_key(job_arq_id(str(job_id)))
    age = await lock_age_s(redis, settings, key)
    if age is None or age < settings.requeue_after_s:
        return False
    await redis.delete(key)
    log.warning("job %s: taken from the queue by a worker that never started it; released for another", job_id)
    return True


async def lock_age_s(redis: ArqRedis, settings: Settings, key: str) -> float | None:
    """Seconds since a worker took the job from the queue (arq's in-progress lock), None if none holds it;
    negative for a lock longer than this worker's settings would set (its age is unknown)."""
    left_ms = int(await redis.pttl(key))
    if left_ms <= 0:
        return None
    return arq_lock_s(settings) - left_ms / 1000


async def take_over(redis: ArqRedis, settings: Settings, job_id: object) -> bool:
    """A dead worker's job: release arq's in-progress lock so another worker runs it now, not after
    the lock's timeout; enqueue it again if Redis lost it altogether."""
    arq_id = job_arq_id(str(job_id))
    lock = in_progress_key(arq_id)
    age = await lock_age_s(redis, settings, lock)
    if age is not None and 0 <= age < settings.requeue_after_s:
        # A worker took it moments ago: another sweep released it first (a restarted worker's sweep at
        # start-up and a scheduled one can run at once). Releasing it again ran it twice, counting two
        # attempts for one crash; its claim in PostgreSQL soon names that live worker.
        return False
    await redis.delete(lock)
    if await redis.zscore(settings.queue_name, arq_id) is not None:
        log.warning("job %s: its worker is gone; released for another worker", job_id)
        return True
    await redis.delete(result_key(arq_id))
    log.warning("job %s: its worker is gone and Redis lost it; enqueued again", job_id)
    return await enqueue_process_job(redis, settings.queue_name, str(job_id))


async def requeue_lost_jobs(ctx: dict[str, Any]) -> dict[str, int]:
    worker = context(ctx)
    settings, redis = worker.settings, worker.redis
    requeued = failed = zipped = 0
    for job_id in await jobs.jobs_to_requeue(settings.requeue_after_s):
        arq_job = Job(job_arq_id(job_id), redis, _queue_name=settings.queue_name)
        status = await arq_job.status()
        if status == JobStatus.complete:
            # arq finished it without the row moving on (e.g. it timed out before starting):
            # its result key would block the same job id, so drop it first.
            await redis.delete(result_key(job_arq_id(job_id)))
            status = JobStatus.not_found
        if status == JobStatus.not_found:
            requeued += await enqueue_process_job(redis, settings.queue_name, job_id)
        elif status == JobStatus.in_progress:
            requeued += await release_unclaimed(redis, settings, job_id)
    live = await live_workers(redis, settings.heartbeat_key, settings.heartbeat_ttl_s)
    orphans = await jobs.orphaned_jobs(live, settings.heartbeat_ttl_s)
    # A live worker's job that arq no longer holds (its tries ran out while the database was away):
    for job_id, attempts in await jobs.processing_jobs(settings.heartbeat_ttl_s * 2):
        status = await Job(job_arq_id(job_id), redis, _queue_name=settings.queue_name).status()
        if status not in (JobStatus.in_progress, JobStatus.queued, JobStatus.deferred):
            orphans.append((job_id, attempts))
    for job_id, attempts in dict(orphans).items():
        if attempts >= settings.job_max_tries:
            # The image took its worker down every time (out of memory, a crash in native code):
            # stop trying, and give the credits back.
            if await fail_stuck_job(ctx, job_id, "processing_failed", f"Processing was interrupted {attempts} times."):
                failed += 1
        elif await take_over(redis, settings, job_id):
            requeued += 1
    for batch_id in await batches.unfinished_complete_batches():
        if await enqueue_batch_zip(redis, settings.queue_name, batch_id):
            zipped += 1
    hooks = 0
    for kind, object_id in await jobs.unsent_webhooks(settings.requeue_after_s):
        if await enqueue_webhook(redis, settings.queue_name, kind, object_id):
            hooks += 1
    if requeued or failed or zipped or hooks:
        log.info(
            "sweep: %d re-enqueued, %d stuck failed, %d ZIPs rebuilt, %d webhooks sent again",
            requeued,
            failed,
            zipped,
            hooks,
        )
    return {"requeued": requeued, "failed": failed, "zips": zipped, "webhooks": hooks}


async def retention_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    worker = context(ctx)
    return await run_retention(worker.settings, worker.storage)


async def run_retention(settings: Settings, storage: Storage) -> dict[str, int]:
    """The retention sweep without a worker around it (``make``-style tools and tests call it too)."""
    expired = await jobs.expired_files(settings.result_retention_days)
    for row in expired:
        for key in (row.input_key, row.output_key):
            if key:
                await storage.delete(key)
    if expired:
        await jobs.forget_files([r.id for r in expired])
    age_s = settings.result_retention_days * 86400
    zips = await storage.keys_older_than("zips", age_s)
    backgrounds = await storage.keys_older_than("backgrounds", age_s)
    for key in [*zips, *backgrounds]:
        await storage.delete(key)
    expired_subs = await BackgroundRemoverSubscription.raw(
        "UPDATE background_remover_subscription SET status = 'expired', updated_at = now() "
        "WHERE status = 'active' AND expires_at < now() RETURNING id"
    )
    purged = await idempotency.purge_older_than(settings.idempotency_ttl_hours)
    return {
        "files": len(expired),
        "zips": len(zips),
        "backgrounds": len(backgrounds),
        "subscriptions": len(expired_subs),
        "idempotency": purged,
    }
