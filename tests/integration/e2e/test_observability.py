"""What an operator sees: ``/metrics`` on the API and on a worker move as real work goes through, and
with ``LOG_FORMAT=json`` every line is a JSON object carrying the request id, the job id and the user's
hashed id, never the user id itself.

Real processes (``python -m api.server``, ``python -m worker``), as ``make run`` starts them.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from core.logs import hash_user
from core.settings import Settings
from tests.support.images import variant
from tests.support.invariants import assert_money_is_right, wait_all_final
from tests.support.processes import api_server, env_with, free_port, worker_process
from tests.support.webhook_receiver import receiving

API = "/api/background-remover"

pytestmark = pytest.mark.models

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(url, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def blank_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 200, 200)).save(out, "JPEG")
    return out.getvalue()


async def test_metrics_move_and_json_logs_carry_ids_while_jobs_run(
    settings: Settings, make_user, migrated_db: str, tmp_path: Path
) -> None:
    worker_port, token = free_port(), uuid.uuid4().hex
    env = env_with(
        QUEUE_NAME=f"bgremover:obs:{uuid.uuid4().hex[:8]}",
        # the sweep would adopt other tests' old pending jobs from the shared database and count them too,
        # and their jobs left `processing` by a stopped worker (heartbeats older than this TTL)
        REQUEUE_AFTER_S="86400",
        WORKER_HEARTBEAT_TTL_S="86400",
        WORKER_TIERS="basic",
        WORKER_METRICS_PORT=str(worker_port),
        METRICS_TOKEN=token,
        LOG_FORMAT="json",
        RATE_LIMIT_PER_S="0.01",
        RATE_LIMIT_BURST="6",
        WEBHOOK_ALLOW_PRIVATE="1",
    )
    user = await make_user(100)
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    with api_server(env, log_path=api_log, log_level="info") as base:
        assert httpx.get(base + "/metrics", timeout=10).status_code == 401
        before = scrape(base + "/metrics", token)
        assert value(before, "bgremover_queue_depth", queue=env["QUEUE_NAME"]) == 0

        secret = httpx.post(base + API + "/webhooks/secret", headers=user.headers, timeout=30).json()["secret"]
        async with receiving(secret) as hooks:
            request_id = uuid.uuid4().hex
            ok = httpx.post(
                base + API + "/jobs",
                files={"image": ("p.jpg", variant(settings, 0, size=(640, 428)), "image/jpeg")},
                data={"tier": "basic", "webhook_url": hooks.url()},
                headers={**user.headers, "X-Request-ID": request_id},
                timeout=30,
            )
            assert ok.status_code == 202, ok.text
            assert ok.headers["x-request-id"] == request_id
            bad = httpx.post(
                base + API + "/jobs",
                files={"image": ("blank.jpg", blank_jpeg(), "image/jpeg")},
                data={"tier": "basic"},
                headers=user.headers,
                timeout=30,
            )
            assert bad.status_code == 202, bad.text
            queued = scrape(base + "/metrics", token)
            assert value(queued, "bgremover_queue_depth", queue=env["QUEUE_NAME"]) == 2
            assert value(queued, "bgremover_queue_oldest_job_age_seconds", queue=env["QUEUE_NAME"]) > 0
            assert value(queued, "bgremover_workers_live") == 0

            refused = 0
            for _ in range(10):  # the burst is spent: refusals follow
                if httpx.get(base + API + "/jobs", headers=user.headers, timeout=30).status_code == 429:
                    refused += 1
            assert refused > 0

            with worker_process(env, worker_log):
                await wait_all_final(migrated_db, [user.id], timeout_s=120)
                deadline = time.monotonic() + 30
                while not hooks.requests and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                assert hooks.requests, "the webhook was not delivered"
                await asyncio.sleep(0.5)  # the outcome is counted right after the receiver answered
                worker = scrape(f"http://127.0.0.1:{worker_port}/metrics")
                after = scrape(base + "/metrics", token)

    assert value(worker, "bgremover_jobs_finished_total", tier="basic", status="completed") == 1
    assert value(worker, "bgremover_jobs_finished_total", tier="basic", status="failed") == 1
    assert value(worker, "bgremover_refunds_total", tier="basic") == 1
    assert value(worker, "bgremover_refunded_credits_total") > 0
    assert value(worker, "bgremover_job_processing_seconds_count", tier="basic") == 1
    for stage in ("decode", "model", "encode"):
        assert value(worker, "bgremover_job_stage_seconds_count", tier="basic", stage=stage) == 1, stage
    assert value(worker, "bgremover_webhook_deliveries_total", outcome="delivered") == 1
    assert value(worker, "bgremover_model_available", tier="basic") == 1
    assert value(worker, "bgremover_model_available", tier="industry") == 0
    assert value(after, "bgremover_workers_live") == 1
    assert value(after, "bgremover_api_refusals_total", code="rate_limited") - value(
        before, "bgremover_api_refusals_total", code="rate_limited"
    ) == pytest.approx(refused)
    assert value(after, "bgremover_queue_scrape_ok") == 1
    for samples in (worker, after):
        assert not any(user.id in str(labels) for _, labels in samples), "a label holds a user id"

    job_id = bad.json()["id"]  # its failure is logged inside the job
    lines = [json.loads(line) for text in (api_log, worker_log) for line in text.read_text().splitlines()]
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert user.id not in api_log.read_text() + worker_log.read_text(), "a log line holds the raw user id"
    access = [line for line in lines if line["logger"] == "uvicorn.access" and line.get("request_id") == request_id]
    assert len(access) == 1 and '"POST /api/background-remover/jobs HTTP/1.1" 202' in access[0]["message"]
    assert access[0]["user"] == hash_user(user.id)
    assert access[0]["duration_ms"] > 0, "the access line has no duration"
    job_lines = [line for line in lines if line.get("job_id") == job_id]
    assert job_lines, "no worker line carries the job id"
    assert any(line.get("user") == hash_user(user.id) for line in lines), "no line carries the hashed user"
    await assert_money_is_right(migrated_db, [user.id])
