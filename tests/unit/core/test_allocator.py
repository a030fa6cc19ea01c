"""A worker reuses the buffers of one job for the next instead of mapping them afresh (every fresh page
is a fault, ~12 000 per 2 MP image), and gives them back to the system once it is idle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# one "job": image-sized float buffers allocated, used and freed, as the engine does
_JOB = """
import json, os, resource, sys
import numpy as np
from core.allocator import release_free_memory, reuse_freed_buffers

if sys.argv[1] == "tuned":
    reuse_freed_buffers()

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def job():  # a 2 MP image's decode, masks and output: several 8 MB buffers alive at once, then freed
    planes = [np.ones((1000, 2000), np.float32)]
    for _ in range(5):
        planes.append(planes[-1] * 0.5)
    return float(sum(p[0, 0] for p in planes))

job()
before = faults()
for _ in range(5):
    job()
faults_per_job = (faults() - before) / 5
held = rss_mb()
release_free_memory()
print(json.dumps({"faults_per_job": faults_per_job, "held_mb": held, "idle_mb": rss_mb()}))
"""


def _run(mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _JOB, mode], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    figures: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return figures


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_worker_reuses_image_buffers_between_jobs_and_returns_them_when_idle() -> None:
    default, tuned = _run("default"), _run("tuned")
    assert default["faults_per_job"] > 1000  # glibc alone trims the freed heap: the next job faults it back in
    assert tuned["faults_per_job"] < 100
    assert tuned["held_mb"] - tuned["idle_mb"] > 20  # what the jobs freed leaves once the worker is idle
