"""The queue's vocabulary, shared by the API (which enqueues) and the worker (which runs): task names,
arq job ids, queue names and typed enqueue helpers.

The enqueue side never imports the worker, as in arq itself: a task is named here and registered under
that name by :mod:`worker.runner`. arq's own Redis keys come from :mod:`arq.constants`, never typed by hand.

Fair order: arq runs the runnable entries of its sorted set lowest score first, and a score is only
"runnable" once it is not in the future. So images are enqueued with scores in the past, set by
start-time fair queueing (:func:`fair_scores`): each user has a clock per :class:`Lane` that advances by
an image's cost, and a newcomer starts at the head of the queue. One user's 500-image batch then takes
every other turn at most, instead of making everyone else wait for all of it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from redis.asyncio import Redis

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


class Lane(StrEnum):
    """Each user's work is ordered in two lanes with a clock each, so a user's own batch does not hold
    up their single jobs either."""

    INTERACTIVE = "interactive"
    BATCH = "batch"


FAIR_OFFSET_MS = 30 * 86_400_000
"""Fair scores lie this far in the past; a user's backlog longer than this (in cost) runs in FIFO order."""

COST_MS_PER_CREDIT = 1000
"""An image's cost on its user's clock: its tier's price stands for how long it takes."""

_QUEUED_FOR = timedelta(days=1)
"""arq derives a job's expiry from its score; with a score in the past it must be given explicitly."""

# KEYS[1] the queue, KEYS[2] the lane's clock, KEYS[3] the queue's arrival clock; ARGV: now_ms,
# offset_ms, count, cost_ms, clock ttl_ms. The head is the lowest fair score still queued (arq keeps
# running jobs in the set until they end), the "virtual time" of start-time fair queueing. Lanes that
# start at the head take 1 ms more each (the arrival clock), so they keep their order of arrival
# instead of tying. An empty queue resets every clock to the floor.
_FAIR_START = """
local now = tonumber(ARGV[1])
local offset = tonumber(ARGV[2])
local floor = now - offset
local head = redis.call('ZRANGEBYSCORE', KEYS[1], now - offset - offset / 2, now, 'WITHSCORES', 'LIMIT', 0, 1)
local start = floor
local clock = 0
if head[2] then
  start = math.max(tonumber(head[2]), tonumber(redis.call('GET', KEYS[3]) or '0') + 1)
  clock = tonumber(redis.call('GET', KEYS[2]) or '0')
end
if clock > start then
  start = clock
else
  redis.call('SET', KEYS[3], string.format('%d', start), 'PX', ARGV[5])
end
redis.call('SET', KEYS[2], string.format('%d', start + tonumber(ARGV[3]) * tonumber(ARGV[4])), 'PX', ARGV[5])
return string.format('%d', start)
"""


def fair_clock_key(queue_name: str, user_id: str, lane: Lane) -> str:
    return f"{queue_name}:fair:{lane}:{user_id}"


async def fair_scores(redis: Redis, queue_name: str, user_id: str, lane: Lane, count: int, cost_ms: int) -> list[int]:
    """Scores for ``count`` images of one user's lane, reserved atomically (one round trip)."""
    now = int(time.time() * 1000)
    args = (now, FAIR_OFFSET_MS, count, cost_ms, int(_QUEUED_FOR.total_seconds() * 1000))
    keys = (queue_name, fair_clock_key(queue_name, user_id, lane), f"{queue_name}:fair:arrivals")
    raw = await redis.eval(_FAIR_START, len(keys), *keys, *(str(a) for a in args))  # type: ignore[misc]
    start = int(raw)
    # never in the future, where arq would not run it yet
    return [min(start + i * cost_ms, now - 1) for i in range(count)]


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
        _expires=_QUEUED_FOR,
    )
    return job is not None


async def enqueue_fairly(
    redis: ArqRedis, queue_name: str, user_id: str, lane: Lane, cost_ms: int, job_ids: Sequence[uuid.UUID | str]
) -> int:
    """Enqueue one user's images in their lane's fair order; returns how many arq accepted."""
    scores = await fair_scores(redis, queue_name, user_id, lane, len(job_ids), cost_ms)
    accepted = 0
    for job_id, score in zip(job_ids, scores, strict=True):
        accepted += await enqueue_process_job(redis, queue_name, job_id, score_ms=score)
    return accepted


async def enqueue_batch_zip(redis: ArqRedis, queue_name: str, batch_id: uuid.UUID | str) -> bool:
    job = await redis.enqueue_job(
        Task.BUILD_BATCH_ZIP,
        str(batch_id),
        _job_id=zip_arq_id(batch_id),
        _queue_name=queue_name,
        _defer_until=_at(urgent_score()),
        _expires=_QUEUED_FOR,
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


def final_channel(queue_name: str) -> str:
    """The pub/sub channel on which a job's (or a batch's) id is published when it reaches its final
    state, so that requests waiting for it (long polls, the synchronous remove.bg route) wake at once
    instead of polling the database. Each API process holds one subscription for all its waiters."""
    return f"{queue_name}:final"


def final_message(kind: str, object_id: uuid.UUID | str) -> str:
    return f"{kind}:{object_id}"


async def signal_final(redis: Redis, queue_name: str, kind: str, object_id: uuid.UUID | str) -> None:
    """``kind`` is ``job`` or ``batch``. Fire and forget: a waiter also re-reads the row now and then."""
    await redis.publish(final_channel(queue_name), final_message(kind, object_id))
