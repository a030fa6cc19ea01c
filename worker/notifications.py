"""``deliver_webhook``: a signed POST to the client's ``webhook_url`` when a job or batch finishes.

It runs on the webhook queue (``core.tasks.webhook_queue``), consumed by its own arq worker
(:mod:`worker.webhook_worker`), so a slow or dead receiver only ever holds a webhook slot, never one
that inference needs. One attempt is bounded by ``WEBHOOK_TIMEOUT_S``.

Signed with the user's own secret (``db.webhook_secrets``), and with the previous one too while a
rotation's grace period lasts. Retried with exponential backoff (``core.webhooks.backoff_seconds``) up
to ``MAX_ATTEMPTS``; the job or batch row records ``webhook_status`` (``delivered`` / ``failed``) and the
attempts made. Never sent for a cancelled job: the client cancelled it themselves.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from arq import Retry

from core.serialisers import batch_out, job_out
from core.settings import Settings
from core.tasks import enqueue_webhook
from core.webhooks import MAX_ATTEMPTS, backoff_seconds, deliver, event_payload
from db import batches, jobs, webhook_secrets
from db.webhook_secrets import SigningKeys

log = logging.getLogger("bgremover.worker")


async def signing_keys(settings: Settings, user_id: str) -> SigningKeys | None:
    keys = await webhook_secrets.signing_keys(user_id)
    if keys is None and settings.webhook_secret:
        # Only work accepted before per-user secrets existed gets here: a submission with a
        # webhook_url is refused until the user has a secret, and secrets are never deleted.
        return SigningKeys(current=settings.webhook_secret, previous=None)
    return keys


async def deliver_webhook(ctx: dict[str, Any], kind: str, object_id: str) -> dict[str, Any]:
    settings: Settings = ctx["settings"]
    attempt = int(ctx.get("job_try", 1))
    oid = uuid.UUID(object_id)
    if kind == "job":
        row = await jobs.get_job(oid)
        data = msgspec.to_builtins(job_out(row)) if row else None
        event_type = "job.finished"
    else:
        row = await batches.get_batch_by_id(oid)
        data = msgspec.to_builtins(batch_out(row, images=await batches.batch_images(oid))) if row else None
        event_type = "batch.finished"
    if row is None or not row.get("webhook_url") or data is None:
        return {"status": "skipped"}
    if row["status"] == "cancelled":  # the client cancelled it and had the answer in that response
        return {"status": "skipped", "reason": "cancelled"}
    record = jobs.set_webhook_state if kind == "job" else batches.set_webhook_state
    keys = await signing_keys(settings, row["user_id"])
    if keys is None:
        await record(oid, "failed", attempt - 1)
        log.warning("webhook %s %s not sent: its user has no signing secret", kind, oid)
        return {"status": "failed", "attempt": attempt - 1, "error": "webhook_secret_missing"}
    result = await deliver(
        row["webhook_url"],
        event_payload(event_type, data),  # type: ignore[arg-type]
        secret=keys.current,
        also_sign_with=(keys.previous,) if keys.previous else (),
        msg_id=f"msg_{kind}_{object_id}",
        allow_private=settings.webhook_allow_private,
        timeout_s=settings.webhook_timeout_s,
    )
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


async def forward_to_webhook_queue(ctx: dict[str, Any], kind: str, object_id: str) -> dict[str, str]:
    """Registered under ``deliver_webhook`` on the main queue, where releases before the webhook queue
    put deliveries: they move to the webhook queue instead of running in an inference slot."""
    settings: Settings = ctx["settings"]
    await enqueue_webhook(ctx["redis"], settings.queue_name, "job" if kind == "job" else "batch", object_id)
    return {"status": "forwarded"}
