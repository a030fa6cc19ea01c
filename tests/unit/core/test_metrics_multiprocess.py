"""With ``PROMETHEUS_MULTIPROC_DIR`` set, a scrape of any process reports what every process on the host
counted (several uvicorn workers, several ``python -m worker``), and the directory is emptied at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]

COUNT = """
from worker.metrics import count_final, count_delivery
count_final("basic", "completed", refunded=False, credits=0)
count_final("basic", "failed", refunded=True, credits=2)
count_delivery("delivered")
"""

SCRAPE = """
from core.metrics import exposition, scrape_registry
body, _ = exposition(scrape_registry())
print(body.decode())
"""


def run(code: str, folder: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_scrape_sums_every_process_and_a_reset_forgets_them(tmp_path: Path) -> None:
    folder = tmp_path / "prom"
    folder.mkdir()
    run(COUNT, folder)
    run(COUNT, folder)
    seen = samples(run(SCRAPE, folder))
    assert seen[("bgremover_jobs_finished_total", frozenset({("tier", "basic"), ("status", "completed")}))] == 2
    assert seen[("bgremover_refunds_total", frozenset({("tier", "basic")}))] == 2
    assert seen[("bgremover_refunded_credits_total", frozenset())] == 4
    assert seen[("bgremover_webhook_deliveries_total", frozenset({("outcome", "delivered")}))] == 2

    run("from core.metrics import reset_multiprocess_dir; reset_multiprocess_dir()", folder)
    assert list(folder.iterdir()) == []
    assert "bgremover_jobs_finished_total{" not in run(SCRAPE, folder)
