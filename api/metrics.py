"""The API's metrics and ``GET /metrics``: refusals counted as they happen; the queues and the live
workers read from Redis when Prometheus scrapes (every API process sees the same Redis, so any one of
them reports the whole deployment's queues).

Who may read it (:func:`check_access`): with ``METRICS_TOKEN`` set, whoever sends ``Authorization:
Bearer <token>`` (compared in constant time). With ``METRICS_PORT`` set, nobody on the API's own port
(404): the route is served by the internal listener of :mod:`api.metrics_listener` instead. Without a
token in production, nobody on the API's port either (the factory refuses to start that way; this is
the second lock). It is left out of the public OpenAPI document (it is for operators) and described
in docs/observability.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from arq.constants import job_key_prefix
from arq.jobs import deserialize_job
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from prometheus_client import Counter
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from redis.asyncio import Redis

from core.heartbeats import live_workers
from core.metrics import NAMESPACE, Snapshot, exposition, scrape_registry
from core.settings import Settings
from core.tasks import all_queues, in_progress_key

log = logging.getLogger("bgremover.api")

QUEUE_DEPTH = f"{NAMESPACE}_queue_depth"
QUEUE_OLDEST_AGE = f"{NAMESPACE}_queue_oldest_job_age_seconds"
WORKERS_LIVE = f"{NAMESPACE}_workers_live"
SCRAPE_OK = f"{NAMESPACE}_queue_scrape_ok"
SCRAPE_SERIES = (QUEUE_DEPTH, QUEUE_OLDEST_AGE, WORKERS_LIVE, SCRAPE_OK)
"""Series computed at scrape time (not in the process registry)."""

_OLDEST_LOOKAHEAD = 50
"""Entries that run next whose enqueue times are read (running and deferred ones are skipped)."""


@dataclass(frozen=True)
class ApiMetrics:
    refusals: Counter


@cache
def api_metrics() -> ApiMetrics:
    return ApiMetrics(
        refusals=Counter(
            "api_refusals",
            "Requests refused to protect the service, by problem code (rate_limited, queue_full).",
            ["code"],
            namespace=NAMESPACE,
        ),
    )


def count_refusal(code: str) -> None:
    api_metrics().refusals.labels(code).inc()


async def queue_families(redis: Redis, settings: Settings) -> list[Metric]:
    """Depth and age of the oldest waiting job of every queue, and the workers with a fresh heartbeat."""
    depth = GaugeMetricFamily(QUEUE_DEPTH, "Jobs in the arq queue (waiting, deferred or running).", labels=["queue"])
    oldest = GaugeMetricFamily(
        QUEUE_OLDEST_AGE,
        "Seconds since enqueue of the longest-waiting of the next jobs to run; 0 when none.",
        labels=["queue"],
    )
    now_ms = time.time() * 1000
    for queue in all_queues(settings.queue_name):
        depth.add_metric([queue], float(await redis.zcard(queue)))
        oldest.add_metric([queue], await _oldest_waiting_age_s(redis, queue, now_ms))
    workers = await live_workers(redis, settings.heartbeat_key, settings.heartbeat_ttl_s)
    live = GaugeMetricFamily(WORKERS_LIVE, "Workers whose heartbeat is fresh (WORKER_HEARTBEAT_TTL_S).")
    live.add_metric([], float(len(workers)))
    return [depth, oldest, live]


async def _oldest_waiting_age_s(redis: Redis, queue: str, now_ms: float) -> float:
    # A score is not an enqueue time: fair order (core.tasks) scores jobs by virtual clocks far in the
    # past, and a retry's deferral lies in the future. So the age is read from each job's own
    # enqueue time, over the entries that run next; running jobs (arq keeps them in the queue) and
    # deferred ones are not waiting.
    entries = await redis.zrangebyscore(queue, "-inf", now_ms, start=0, num=_OLDEST_LOOKAHEAD)
    if not entries:
        return 0.0
    ids = [member.decode() if isinstance(member, bytes) else str(member) for member in entries]
    async with redis.pipeline(transaction=False) as pipe:
        for arq_id in ids:
            pipe.exists(in_progress_key(arq_id))
            pipe.get(job_key_prefix + arq_id)
        replies = await pipe.execute()
    oldest_ms = now_ms
    for busy, raw in zip(replies[0::2], replies[1::2], strict=True):
        if busy or not raw:
            continue
        try:
            enqueued = deserialize_job(raw).enqueue_time
        except Exception:  # a job arq itself could not read is not ours to judge here
            continue
        oldest_ms = min(oldest_ms, enqueued.timestamp() * 1000)
    return max(0.0, (now_ms - oldest_ms) / 1000)


def check_access(request: Request[Any, Any, Any], settings: Settings, *, internal: bool) -> None:
    """``internal``: the request came to the listener of :mod:`api.metrics_listener` (``METRICS_PORT``),
    not to the API's public port."""
    if not internal and (settings.metrics_port > 0 or (settings.env == "production" and not settings.metrics_token)):
        # the same answer as any unknown path: the public port tells nothing about where metrics are
        raise NotFoundException()
    if not settings.metrics_token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # both sides hashed to one length first, so the comparison's time says nothing of the token's length
    expected = hashlib.sha256(settings.metrics_token.encode()).digest()
    if scheme.lower() != "bearer" or not hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(), expected):
        raise NotAuthorizedException("GET /metrics wants Authorization: Bearer <METRICS_TOKEN>")


@get("/metrics", include_in_schema=False)
async def metrics_route(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    redis: NamedDependency[Redis],
    metrics_internal: NamedDependency[bool],
) -> Response[bytes]:
    """Both apps provide ``settings``, ``redis`` and ``metrics_internal`` (False on the API's port)."""
    check_access(request, settings, internal=metrics_internal)
    api_metrics()
    ok = GaugeMetricFamily(SCRAPE_OK, "1 when the queues could be read from Redis for this scrape.")
    families: list[Metric] = []
    try:
        families = await queue_families(redis, settings)
        ok.add_metric([], 1.0)
    except Exception as exc:  # Redis down: still report what this process knows
        log.warning("metrics: queues unknown (%r)", exc)
        ok.add_metric([], 0.0)
    body, content_type = exposition(scrape_registry(Snapshot([*families, ok])))
    return Response(body, media_type=content_type)
