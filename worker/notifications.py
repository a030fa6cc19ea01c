"""``deliver_webhook``: a signed POST to the client's ``webhook_url`` when a job or batch finishes.

Retried with exponential backoff (``core.webhooks.backoff_seconds``) up to ``MAX_ATTEMPTS``; the
job or batch row records ``webhook_status`` (``delivered`` / ``failed``) and the attempts made.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from arq import Retry

from core.rows import BatchRow, JobRow
from core.serialisers import batch_out, job_out
from core.webhooks import MAX_ATTEMPTS, backoff_seconds, deliver, event_payload
from db import batches, jobs
from worker.context import context, job_try

log = logging.getLogger("bgremover.worker")


async def deliver_webhook(ctx: dict[str, Any], kind: str, object_id: str) -> dict[str, Any]:
    settings = context(ctx).settings
    attempt = job_try(ctx)
    oid = uuid.UUID(object_id)
    row: JobRow | BatchRow | None
    if kind == "job":
        row = await jobs.get_job(oid)
        data = msgspec.to_builtins(job_out(row)) if row else None
        event_type = "job.finished"
    else:
        row = await batches.get_batch_by_id(oid)
        data = msgspec.to_builtins(batch_out(row, images=await batches.batch_images(oid))) if row else None
        event_type = "batch.finished"
    if row is None or not row.webhook_url or data is None:
        return {"status": "skipped"}
    result = await deliver(
        row.webhook_url,
        event_payload(event_type, data),  # type: ignore[arg-type]
        secret=settings.webhook_secret,
        msg_id=f"msg_{kind}_{object_id}",
        allow_private=settings.webhook_allow_private,
    )
    record = jobs.set_webhook_state if kind == "job" else batches.set_webhook_state
    if result.ok:
        await record(oid, "delivered", attempt)
        return {"status": "delivered", "attempt": attempt}
    if result.retryable and attempt < MAX_ATTEMPTS:
        await record(oid, "retrying", attempt)
        log.info("webhook %s %s attempt %d failed (%s); retrying", kind, oid, attempt, result.error)
        raise Retry(defer=backoff_seconds(attempt))
    await record(oid, "failed", attempt)
    log.warning("webhook %s %s gave up after %d attempt(s): %s", kind, oid, attempt, result.error)
    return {"status": "failed", "attempt": attempt, "error": result.error}
