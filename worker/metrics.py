"""The worker's metrics: jobs by tier and final status, seconds per tier and stage, refunds, webhook
deliveries by outcome, model availability; served on ``WORKER_METRICS_PORT`` (0 = not served).

Counted where the fact is final: a job when its row moved to its final state (once, whatever arq
retries), a refund with that same transaction, a delivery when its outcome was recorded.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cache
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from core.metrics import JOB_STAGES, NAMESPACE, SECONDS_BUCKETS, scrape_registry
from core.settings import Settings

log = logging.getLogger("bgremover.worker")

# The engine's stages (engine.pipeline) as the four an operator reads; the tier's refinement steps
# (guided filter, matting, ...) are everything else.
_STAGE_OF = {
    "decode": "decode",
    "preprocess": "model",
    "model": "model",
    "postprocess": "model",
    "render": "encode",
}


def stage_of(engine_stage: str) -> str:
    return _STAGE_OF.get(engine_stage, "refine")


@dataclass(frozen=True)
class WorkerMetrics:
    jobs_finished: Counter
    job_seconds: Histogram
    stage_seconds: Histogram
    refunds: Counter
    refunded_credits: Counter
    webhook_deliveries: Counter
    model_available: Gauge


@cache
def worker_metrics() -> WorkerMetrics:
    """Created on first use (a worker's start-up, or the first job of a test's worker)."""
    return WorkerMetrics(
        jobs_finished=Counter(
            "jobs_finished",
            "Jobs that reached a final state, by tier and status (completed, failed).",
            ["tier", "status"],
            namespace=NAMESPACE,
        ),
        job_seconds=Histogram(
            "job_processing_seconds",
            "Seconds from a worker taking a job to its result stored, completed jobs only, by tier.",
            ["tier"],
            namespace=NAMESPACE,
            buckets=SECONDS_BUCKETS,
        ),
        stage_seconds=Histogram(
            "job_stage_seconds",
            f"Seconds per stage ({', '.join(JOB_STAGES)}) of a completed job, by tier.",
            ["tier", "stage"],
            namespace=NAMESPACE,
            buckets=SECONDS_BUCKETS,
        ),
        refunds=Counter(
            "refunds",
            "Failed jobs whose credits or subscription quota were given back, by tier.",
            ["tier"],
            namespace=NAMESPACE,
        ),
        refunded_credits=Counter(
            "refunded_credits",
            "Credits given back for failed jobs.",
            namespace=NAMESPACE,
        ),
        webhook_deliveries=Counter(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retrying, failed).",
            ["outcome"],
            namespace=NAMESPACE,
        ),
        model_available=Gauge(
            "model_available",
            "1 when this worker has the tier's model loaded, 0 when it is missing or failed to load.",
            ["tier"],
            namespace=NAMESPACE,
            multiprocess_mode="livemax",
        ),
    )


def observe_completed(tier: str, seconds: float, stages: dict[str, float]) -> None:
    metrics = worker_metrics()
    metrics.job_seconds.labels(tier).observe(seconds)
    grouped: dict[str, float] = {}
    for name, spent in stages.items():
        grouped[stage_of(name)] = grouped.get(stage_of(name), 0.0) + spent
    for stage, spent in grouped.items():
        metrics.stage_seconds.labels(tier, stage).observe(spent)


def count_final(tier: str, status: str, *, refunded: bool, credits: int) -> None:
    """``refunded``: what the job took (credits or subscription quota) was given back."""
    metrics = worker_metrics()
    metrics.jobs_finished.labels(tier, status).inc()
    if refunded:
        metrics.refunds.labels(tier).inc()
        if credits > 0:
            metrics.refunded_credits.inc(credits)


def count_delivery(outcome: str) -> None:
    worker_metrics().webhook_deliveries.labels(outcome).inc()


def set_models(available: dict[str, bool]) -> None:
    gauge = worker_metrics().model_available
    for tier, ok in available.items():
        gauge.labels(tier).set(1 if ok else 0)


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(settings: Settings) -> MetricsServer | None:
    """Start the exposition endpoint when ``WORKER_METRICS_PORT`` is set. A port already taken is logged
    and skipped: in multiprocess mode another worker on this host already serves every process's data."""
    if settings.worker_metrics_port <= 0:
        return None
    worker_metrics()
    try:
        server, thread = start_http_server(
            settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=scrape_registry()
        )
    except OSError as exc:
        log.warning("metrics not served on port %d: %s", settings.worker_metrics_port, exc)
        return None
    log.info("metrics on http://%s:%d/metrics", settings.worker_metrics_host, settings.worker_metrics_port)
    return MetricsServer(server, thread)
