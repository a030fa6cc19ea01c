"""``process_job``: one image through its tier, idempotent under arq's at-least-once delivery.

The job row in PostgreSQL decides: a final job is skipped, a ``processing`` one (its worker died)
is taken over. The output key is derived from the job id, so a re-run overwrites the same file, and
the transition to a final state happens once, with its refund and batch counters, in one transaction.
Bad images fail at once (never retried); storage and database hiccups are retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from functools import partial
from typing import Any

from arq import Retry

from core.allocator import release_free_memory
from core.errors import BgRemoverError
from core.final_channel import signal_final
from core.logs import log_context, set_user
from core.options import OutputOptions
from core.rows import FinishedJob, JobRow
from core.settings import Settings
from core.statuses import UNFINISHED, JobStatus
from core.storage import output_key
from core.tasks import enqueue_batch_zip, enqueue_webhook
from db import batches, billing, jobs
from db.piccolo_conf import DB
from engine.pipeline import Cutout
from worker.attempts import job_try
from worker.context import context
from worker.metrics import count_final, observe_completed

log = logging.getLogger("bgremover.worker")


def retry_delay_s(job_try: int) -> int:
    return int(min(5 * 2 ** max(0, job_try - 1), 120))


async def process_job(ctx: dict[str, Any], job_id: str) -> dict[str, Any]:
    with log_context(job_id=job_id):
        return await _process_job(ctx, job_id)


async def _process_job(ctx: dict[str, Any], job_id: str) -> dict[str, Any]:
    worker = context(ctx)
    settings = worker.settings
    jid = uuid.UUID(job_id)
    try:
        job = await jobs.claim_for_processing(jid, worker.worker_id)
        if job is not None and job.batch_id is not None:
            await batches.mark_started(job.batch_id)
    except Exception as exc:  # the database is down: try again later
        raise _retry_or_give_up(ctx, jid, exc, settings) from exc
    if job is None:
        return {"job": job_id, "status": "skipped"}
    set_user(job.user_id)
    started = time.perf_counter()
    try:
        if job.input_key is None:
            raise FileNotFoundError(job.id)
        data = await worker.storage.get(job.input_key)
    except FileNotFoundError:
        return await _fail(ctx, job, "input_missing", "The uploaded image is no longer stored.")
    except OSError as exc:
        raise _retry_or_give_up(ctx, jid, exc, settings) from exc
    try:
        options = OutputOptions.from_params({str(k): str(v) for k, v in job.output_options.items()})
    except BgRemoverError as exc:
        return await _fail(ctx, job, exc.code, exc.detail)
    background: bytes | None = None
    if options.bg_image is not None:
        try:
            background = await worker.storage.get(options.bg_image)
        except FileNotFoundError:
            return await _fail(ctx, job, "background_missing", "The background image is no longer stored.")
        except OSError as exc:
            raise _retry_or_give_up(ctx, jid, exc, settings) from exc
    try:
        stages: dict[str, float] = {}
        remove = partial(worker.engine.remove, data, job.tier, options, background=background, timings=stages)
        cutout: Cutout = await asyncio.get_running_loop().run_in_executor(worker.executor, remove)
    except BgRemoverError as exc:  # a bad image, bad options, a tier this worker lacks: final, refunded
        return await _fail(ctx, job, exc.code, exc.detail)
    except MemoryError:
        return await _fail(ctx, job, "image_too_complex", "The image needed more memory than a worker has.")
    except Exception as exc:
        log.exception("job %s: unexpected failure on try %d", jid, job_try(ctx))
        raise _retry_or_give_up(ctx, jid, exc, settings) from exc
    finally:
        if not worker.engine.images_inside:  # the last image out: while others are in, their next job reuses it
            release_free_memory()
    key = output_key(jid, cutout.extension)
    try:
        await worker.storage.put(key, cutout.data)
        elapsed_s = time.perf_counter() - started
        final = await _finish(
            jid, JobStatus.COMPLETED, output_key=key, processing_ms=int(elapsed_s * 1000), foreground=cutout.foreground
        )
    except Exception as exc:
        raise _retry_or_give_up(ctx, jid, exc, settings) from exc
    elapsed_ms = int(elapsed_s * 1000)
    if final is not None:
        observe_completed(job.tier, elapsed_s, stages)
        await _after_final(ctx, final)
    return {"job": job_id, "status": "completed", "ms": elapsed_ms}


async def _finish(
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    from_statuses: frozenset[str] = UNFINISHED,
    output_key: str | None = None,
    processing_ms: int | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    foreground: tuple[int, int, int, int] | None = None,
) -> FinishedJob | None:
    """The final transition, its refund and the batch counter, atomically."""
    async with DB.transaction():
        job = await jobs.transition_to_final(
            job_id,
            status,
            from_statuses=from_statuses,
            output_key=output_key,
            processing_ms=processing_ms,
            error_code=error_code,
            error_message=error_message,
            foreground=foreground,
        )
        if job is None:
            return None
        failed = status is not JobStatus.COMPLETED
        if failed:
            await billing.release_job(job, reason=f"job {status}: {error_code or status}")
        batch_done = job.batch_id is not None and await batches.count_finished_image(job.batch_id, failed=failed)
        finished = FinishedJob(job, batch_done=batch_done)
    # counted once the transaction committed: a rolled-back transition is retried and counted then
    row = finished.job
    count_final(row.tier, status, refunded=failed, credits=0 if row.covered_by_subscription else row.credits_charged)
    return finished


async def _fail(ctx: dict[str, Any], job: JobRow, code: str, message: str) -> dict[str, Any]:
    log.info("job %s failed: %s (%s)", job.id, code, message)
    final = await _finish(job.id, JobStatus.FAILED, error_code=code, error_message=message[:2000])
    if final is not None:
        await _after_final(ctx, final)
    return {"job": str(job.id), "status": "failed", "code": code}


async def _after_final(ctx: dict[str, Any], final: FinishedJob) -> None:
    """Clean-up and notifications that may be lost without harm (sweeps redo them)."""
    worker = context(ctx)
    job = final.job
    if job.input_key:
        try:
            await worker.storage.delete(job.input_key)
            await jobs.forget_input(job.id)
        except Exception as exc:  # the retention sweep deletes it later
            log.warning("job %s: could not delete its input: %r", job.id, exc)
    queue = worker.settings.queue_name
    try:
        if final.batch_done and job.batch_id is not None:
            await enqueue_batch_zip(worker.redis, queue, job.batch_id)
        if job.batch_id is None and job.webhook_url:
            await enqueue_webhook(worker.redis, queue, "job", job.id)
        if job.batch_id is None:
            # a lost signal only delays a waiting request until its next look at the row
            await signal_final(worker.redis, queue, "job", job.id)
    except Exception as exc:  # the sweep builds unbuilt ZIPs and sends webhooks never attempted
        log.warning("job %s: could not enqueue its follow-up: %r", job.id, exc)


def _retry_or_give_up(ctx: dict[str, Any], job_id: uuid.UUID, exc: BaseException, settings: Settings) -> BaseException:
    attempt = job_try(ctx)
    if attempt < settings.job_max_tries:
        log.warning("job %s: transient failure on try %d (%r); retrying", job_id, attempt, exc)
        return Retry(defer=retry_delay_s(attempt))
    return GiveUp(job_id, exc)


class GiveUp(Exception):
    """Raised after the last try; :func:`run_process_job` turns it into a failed, refunded job."""

    def __init__(self, job_id: uuid.UUID, cause: BaseException) -> None:
        super().__init__(f"job {job_id} failed after its last try: {cause!r}")
        self.job_id = job_id
        self.cause = cause


async def run_process_job(ctx: dict[str, Any], job_id: str) -> dict[str, Any]:
    """The function arq runs: ``process_job``, with the last try's failure recorded and refunded."""
    try:
        return await process_job(ctx, job_id)
    except GiveUp as exc:
        try:
            final = await _finish(
                exc.job_id,
                JobStatus.FAILED,
                error_code="processing_failed",
                error_message="The image could not be processed after several attempts.",
            )
        except Exception:  # the database is still down: the stuck-job sweep settles it later
            log.exception("job %s: could not record its failure", job_id)
            raise
        if final is not None:
            await _after_final(ctx, final)
        return {"job": job_id, "status": "failed", "code": "processing_failed"}


async def fail_stuck_job(ctx: dict[str, Any], job_id: uuid.UUID, code: str, message: str) -> bool:
    """Used by the sweep for a job left ``processing`` that will not finish: failed and refunded."""
    final = await _finish(
        job_id,
        JobStatus.FAILED,
        from_statuses=frozenset({JobStatus.PROCESSING}),
        error_code=code,
        error_message=message,
    )
    if final is None:
        return False
    await _after_final(ctx, final)
    return True
