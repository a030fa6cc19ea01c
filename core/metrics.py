"""Prometheus exposition shared by the API (``GET /metrics``) and the worker (``WORKER_METRICS_PORT``).

Metric objects are created on first use, never at import (in multiprocess mode creating one writes a
file). With several processes on one host (uvicorn ``--workers``, several ``python -m worker``), set
``PROMETHEUS_MULTIPROC_DIR`` to a directory of their own: each process writes its samples there and
whichever process is scraped reports all of them (docs/observability.md). The directory must be
emptied before the processes start; :func:`reset_multiprocess_dir` does it for the process that starts
the others.

No label ever holds a user id, a job id or anything else a client chooses: labels are tiers, statuses,
stages, outcomes and queue names, so the number of series stays small and a scrape leaks nobody's data.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "bgremover"

JOB_STAGES = ("decode", "model", "refine", "encode")
"""The stages of ``bgremover_job_stage_seconds``; the engine's finer ones map onto them."""

SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
"""From a thumbnail on the basic tier to a large photo on the industry tier."""


def multiprocess_dir() -> Path | None:
    raw = os.environ.get(MULTIPROC_ENV)
    return Path(raw) if raw else None


def reset_multiprocess_dir() -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` (create it if missing): samples of processes from an earlier
    start would otherwise be reported for ever. Only for the process that starts the others."""
    folder = multiprocess_dir()
    if folder is None:
        return
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)


def process_exited(pid: int) -> None:
    """Drop the live gauges of a process that stopped (multiprocess mode only)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Snapshot(Collector):
    """Metric families computed before the scrape (values read from Redis), served as they are."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class _ProcessMetrics(Collector):
    """This process's own metrics, or in multiprocess mode those of every process on the host."""

    def collect(self) -> Iterator[Metric]:
        if multiprocess_dir() is None:
            yield from REGISTRY.collect()
            return
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        yield from registry.collect()


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """What one scrape reports: the process's (or host's) metrics plus ``extra`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    for collector in extra:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text format and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
