"""``deliver_webhook``: a signed POST to the client's ``webhook_url`` when a job or batch finishes.

It runs on the webhook queue (``core.tasks.webhook_queue``), consumed by its own arq worker
(:mod:`worker.webhook_worker`), so a slow or dead receiver only ever holds a webhook slot, never one
that inference needs. One attempt is bounded by ``WEBHOOK_TIMEOUT_S``; a retryable failure is tried
again with exponential backoff (``core.webhooks.backoff_seconds``) up to ``MAX_ATTEMPTS``.

What is sent, and what is not:

* signed with the user's own secret (``db.webhook_secrets``), and with the previous one too while a
  rotation's grace period lasts; the global ``WEBHOOK_SECRET`` only for work accepted before per-user
  secrets existed, whose user still has none;
* never for a cancelled job: the client cancelled it and had the answer in that response;
* not at all when the user already has ``WEBHOOK_MAX_PENDING_PER_USER`` deliveries waiting for a retry,
  or everyone together ``WEBHOOK_MAX_PENDING``: the newest event is the one dropped (``failed``, with the
  reason in the delivery log), so what is already scheduled keeps its place and no work in flight is
  touched.

The job or batch row records ``webhook_status`` (``retrying`` / ``delivered`` / ``failed``) and the attempts
made; ``db.webhook_deliveries`` keeps the last HTTP status and error for the user to read.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from arq import Retry

from core.serialisers import batch_out, job_out
from core.settings import Settings
from core.statuses import BatchStatus, JobStatus, WebhookKind
from core.webhooks import MAX_ATTEMPTS, DnsLookups, backoff_seconds, deliver, event_payload
from db import batches, jobs, webhook_deliveries, webhook_secrets
from db.webhook_deliveries import DeliveryStatus
from db.webhook_secrets import SigningKeys
from worker.attempts import job_try
from worker.metrics import count_delivery

log = logging.getLogger("bgremover.worker")

STALE_AFTER_S = 4 * backoff_seconds(MAX_ATTEMPTS - 1)
"""A delivery ``retrying`` without an attempt for this long (21 minutes: four times the longest wait between
two attempts, room for a busy webhook queue) waits for nothing any more, its queue entry was lost, so it
stops counting against the caps."""


@dataclass(frozen=True, slots=True)
class Event:
    """A finished job or batch, as its webhook describes it."""

    kind: WebhookKind
    object_id: uuid.UUID
    user_id: str
    url: str
    type: Literal["job.finished", "batch.finished"]
    data: dict[str, Any]
    cancelled: bool


async def load_event(kind: WebhookKind, object_id: uuid.UUID) -> Event | None:
    """The event to send, or None when there is nothing to send (no such row, or no ``webhook_url``)."""
    if kind == "job":
        job = await jobs.get_job(object_id)
        if job is None or not job.webhook_url:
            return None
        return Event(
            kind=kind,
            object_id=object_id,
            user_id=job.user_id,
            url=job.webhook_url,
            type="job.finished",
            data=msgspec.to_builtins(job_out(job)),
            cancelled=job.status == JobStatus.CANCELLED,
        )
    batch = await batches.get_batch_by_id(object_id)
    if batch is None or not batch.webhook_url:
        return None
    images = await batches.batch_images(object_id)
    return Event(
        kind=kind,
        object_id=object_id,
        user_id=batch.user_id,
        url=batch.webhook_url,
        type="batch.finished",
        data=msgspec.to_builtins(batch_out(batch, images=images)),
        cancelled=batch.status == BatchStatus.CANCELLED,
    )


async def over_cap(settings: Settings, user_id: str) -> str | None:
    """Why a new delivery must not be sent, or None. Checked once, before its first attempt."""
    backlog = await webhook_deliveries.backlog(user_id, active_within_s=STALE_AFTER_S)
    if backlog.user >= settings.webhook_max_pending_per_user:
        return (
            f"not sent: {backlog.user} earlier deliveries to your receiver are still waiting for a retry "
            f"(at most {settings.webhook_max_pending_per_user}); make it answer 2xx quickly, or poll instead"
        )
    if backlog.total >= settings.webhook_max_pending:
        return (
            f"not sent: {backlog.total} webhook deliveries are waiting for a retry across the service "
            f"(at most {settings.webhook_max_pending}); poll for the result"
        )
    return None


async def signing_keys(settings: Settings, user_id: str) -> SigningKeys | None:
    keys = await webhook_secrets.signing_keys(user_id)
    if keys is None and settings.webhook_secret:
        # Only work accepted before per-user secrets existed gets here: a submission with a
        # webhook_url is refused until the user has a secret, and secrets are never deleted.
        return SigningKeys(current=settings.webhook_secret, previous=None)
    return keys


async def _record(
    event: Event,
    status: DeliveryStatus,
    attempts: int,
    *,
    status_code: int | None = None,
    error: str | None = None,
) -> None:
    count_delivery(status)
    await webhook_deliveries.record(
        event.user_id,
        event.kind,
        event.object_id,
        status,
        attempts=attempts,
        status_code=status_code,
        error=error,
    )
    mirror = jobs.set_webhook_state if event.kind == "job" else batches.set_webhook_state
    await mirror(event.object_id, status, attempts)


_JITTER = random.Random()

WEBHOOK_LOOKUPS = "webhook_lookups"
"""Key in the webhook worker's context of its :class:`DnsLookups`."""


def webhook_lookups(settings: Settings) -> DnsLookups:
    """The webhook hosts' lookups of one worker process: one per user at once, on ``WEBHOOK_DNS_THREADS``
    threads, failures remembered ``WEBHOOK_DNS_NEGATIVE_TTL_S``, as the API's at submission."""
    return DnsLookups(threads=settings.webhook_dns_threads, negative_ttl_s=settings.webhook_dns_negative_ttl_s)


def _settings(ctx: dict[str, Any]) -> Settings:
    # The webhook worker's context holds only the settings (worker.webhook_worker), not a WorkerContext.
    settings = ctx["settings"]
    assert isinstance(settings, Settings), "the webhook worker was built without settings"
    return settings


def webhook_kind(raw: str) -> WebhookKind:
    if raw == "job":
        return "job"
    if raw == "batch":
        return "batch"
    raise ValueError(f"unknown webhook kind {raw!r}")


async def deliver_webhook(ctx: dict[str, Any], kind: str, object_id: str) -> dict[str, Any]:
    settings = _settings(ctx)
    attempt = job_try(ctx)
    event = await load_event(webhook_kind(kind), uuid.UUID(object_id))
    if event is None:
        return {"status": "skipped"}
    if event.cancelled:
        return {"status": "skipped", "reason": "cancelled"}
    logged = await webhook_deliveries.status_of(event.kind, event.object_id)
    if logged in ("delivered", "failed"):  # a duplicate run of the task sends nothing
        return {"status": "skipped", "reason": f"already {logged}"}
    if logged is None:  # a new delivery: admitted only if the backlog leaves room
        refusal = await over_cap(settings, event.user_id)
        if refusal is not None:
            await _record(event, "failed", 0, error=refusal)
            log.warning("webhook %s %s dropped: %s", kind, object_id, refusal)
            return {"status": "failed", "attempt": 0, "error": refusal}
    keys = await signing_keys(settings, event.user_id)
    if keys is None:
        reason = "webhook_secret_missing: the user has no signing secret (POST /webhooks/secret creates one)"
        await _record(event, "failed", attempt - 1, error=reason)
        return {"status": "failed", "attempt": attempt - 1, "error": reason}
    result = await deliver(
        event.url,
        event_payload(event.type, event.data),
        secret=keys.current,
        also_sign_with=(keys.previous,) if keys.previous else (),
        msg_id=f"msg_{kind}_{object_id}",
        allow_private=settings.webhook_allow_private,
        allowed_ports=settings.webhook_ports,
        timeout_s=settings.webhook_timeout_s,
        lookups=ctx.get(WEBHOOK_LOOKUPS),
        user_id=event.user_id,
    )
    if result.ok:
        await _record(event, "delivered", attempt, status_code=result.status_code)
        return {"status": "delivered", "attempt": attempt}
    if result.retryable and attempt < MAX_ATTEMPTS:
        await _record(event, "retrying", attempt, status_code=result.status_code, error=result.error)
        log.info("webhook %s %s attempt %d failed (%s); retrying", kind, object_id, attempt, result.error)
        # jittered: deliveries that failed together (one outage, one name server) do not retry in lockstep
        raise Retry(defer=backoff_seconds(attempt, rng=_JITTER))
    await _record(event, "failed", attempt, status_code=result.status_code, error=result.error)
    log.warning("webhook %s %s gave up after %d attempt(s): %s", kind, object_id, attempt, result.error)
    return {"status": "failed", "attempt": attempt, "error": result.error}


async def purge_delivery_log(ctx: dict[str, Any]) -> dict[str, int]:
    return {"purged": await webhook_deliveries.purge_older_than(_settings(ctx).result_retention_days)}
