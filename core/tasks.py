"""The queue's vocabulary, shared by the API (which enqueues) and the worker (which runs): task names,
arq job ids, queue names and typed enqueue helpers.

The enqueue side never imports the worker, as in arq itself: a task is named here and registered under
that name by :mod:`worker.runner`. arq's own Redis keys come from :mod:`arq.constants`, never typed by hand.

Scores lie in the past (arq only runs entries whose score is not in the future): a user's images get
theirs from :mod:`core.fair_order`; work of no particular user joins at :func:`arrival_score`, a ZIP
someone waits for at :func:`urgent_score`. The end of a job is announced on :mod:`core.final_channel`.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix

from core.statuses import WebhookKind


class Task(StrEnum):
    PROCESS_JOB = "process_job"
    BUILD_BATCH_ZIP = "build_batch_zip"
    DELIVER_WEBHOOK = "deliver_webhook"
    PING = "ping"


def job_arq_id(job_id: uuid.UUID | str) -> str:
    """One arq job per image: arq refuses a second enqueue of the same id while the first is known."""
    return f"job:{job_id}"


def zip_arq_id(batch_id: uuid.UUID | str) -> str:
    return f"zip:{batch_id}"


def webhook_queue(queue_name: str) -> str:
    """Webhooks have a queue of their own, consumed with its own concurrency, so a slow receiver never
    holds a slot that inference needs."""
    return f"{queue_name}:webhooks"


def all_queues(queue_name: str) -> tuple[str, ...]:
    """Every arq queue of a deployment whose main queue is ``queue_name``; what the metrics report on."""
    return (queue_name, webhook_queue(queue_name))


def webhook_arq_id(kind: WebhookKind, object_id: uuid.UUID | str) -> str:
    # Not the ``hook:`` ids of the shared queue: a delivery still queued there under that id is forwarded
    # here, and arq refuses an id it already knows.
    return f"webhook:{kind}:{object_id}"


def in_progress_key(arq_id: str) -> str:
    return in_progress_key_prefix + arq_id


def result_key(arq_id: str) -> str:
    return result_key_prefix + arq_id


FAIR_OFFSET_MS = 30 * 86_400_000
"""Fair scores lie this far in the past; a user's backlog longer than this (in cost) runs in FIFO order."""

QUEUED_FOR = timedelta(days=1)
"""arq derives a job's expiry from its score; with a score in the past it must be given explicitly."""


def arrival_score() -> int:
    """Where work of no particular user joins: as a newcomer would on an empty queue (sweep re-enqueues)."""
    return int(time.time() * 1000) - FAIR_OFFSET_MS


def urgent_score() -> int:
    """Ahead of every fair score: short follow-up work (a batch's ZIP) that someone is waiting for."""
    return int(time.time() * 1000) - 2 * FAIR_OFFSET_MS


def _at(score_ms: int) -> datetime:
    return datetime.fromtimestamp(score_ms / 1000, tz=UTC)


async def enqueue_process_job(
    redis: ArqRedis, queue_name: str, job_id: uuid.UUID | str, *, score_ms: int | None = None
) -> bool:
    """True when arq accepted it; False when a job with that id is already queued, running or kept.
    Without ``score_ms`` it joins as a newcomer would (:func:`arrival_score`)."""
    job = await redis.enqueue_job(
        Task.PROCESS_JOB,
        str(job_id),
        _job_id=job_arq_id(job_id),
        _queue_name=queue_name,
        _defer_until=_at(arrival_score() if score_ms is None else score_ms),
        _expires=QUEUED_FOR,
    )
    return job is not None


async def enqueue_batch_zip(redis: ArqRedis, queue_name: str, batch_id: uuid.UUID | str) -> bool:
    job = await redis.enqueue_job(
        Task.BUILD_BATCH_ZIP,
        str(batch_id),
        _job_id=zip_arq_id(batch_id),
        _queue_name=queue_name,
        _defer_until=_at(urgent_score()),
        _expires=QUEUED_FOR,
    )
    return job is not None


async def enqueue_webhook(redis: ArqRedis, queue_name: str, kind: WebhookKind, object_id: uuid.UUID | str) -> bool:
    """``queue_name`` is the main queue (``QUEUE_NAME``); the delivery goes to its webhook queue."""
    job = await redis.enqueue_job(
        Task.DELIVER_WEBHOOK,
        kind,
        str(object_id),
        _job_id=webhook_arq_id(kind, object_id),
        _queue_name=webhook_queue(queue_name),
    )
    return job is not None
