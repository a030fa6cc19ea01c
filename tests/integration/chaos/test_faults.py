"""Faults a paid API must survive. Each test ends by checking that every accepted job reached a final
state, that no image was charged twice and that every failed one was refunded.

Everything runs as real processes: the API (uvicorn), workers (`python -m worker`), a private
redis-server that can be restarted, and a TCP proxy in front of PostgreSQL that can be cut.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis

from core.settings import Settings
from core.tasks import in_progress_key, job_arq_id
from tests.support.images import variant
from tests.support.invariants import assert_money_is_right, wait_all_final
from tests.support.processes import api_server, env_with, free_port, redis_server, worker_process
from tests.support.tcp_proxy import tcp_proxy

API = "/api/background-remover"

pytestmark = pytest.mark.models


def fast_env(**overrides: str) -> dict[str, str]:
    """Short heartbeats and sweeps so that recovery happens in seconds, not minutes."""
    return env_with(
        QUEUE_NAME=f"bgremover:chaos:{uuid.uuid4().hex[:8]}",
        WORKER_HEARTBEAT_INTERVAL_S="1",
        WORKER_HEARTBEAT_TTL_S="3",
        SWEEP_INTERVAL_S="2",
        REQUEUE_AFTER_S="1",
        JOB_TIMEOUT_S="120",
        **overrides,
    )


def post_job(base: str, user: Any, image: bytes, tier: str = "basic") -> httpx.Response:
    return httpx.post(
        base + API + "/jobs",
        files={"image": ("photo.jpg", image, "image/jpeg")},
        data={"tier": tier},
        headers=user.headers,
        timeout=30,
    )


async def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def job_status(dsn: str, job_id: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT status FROM background_removal_job WHERE id = $1", uuid.UUID(job_id)))
    finally:
        await conn.close()


async def test_a_worker_killed_mid_job_has_its_job_finished_by_another(
    settings: Settings, make_user, migrated_db: str, tmp_path: Path
) -> None:
    env = fast_env(WORKER_TIERS="industry")
    user = await make_user(100)
    with api_server(env) as base:
        r = post_job(base, user, variant(settings, 0, size=(2400, 1608)), tier="industry")
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        with worker_process(env, tmp_path / "worker-a.log") as first:

            async def processing() -> bool:
                return await job_status(migrated_db, job_id) == "processing"

            await wait_for(processing, 90, "the first worker to start the job")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        with worker_process(env, tmp_path / "worker-b.log"):
            rows = await wait_all_final(migrated_db, [user.id], timeout_s=120)
    assert rows[0]["status"] == "completed", (tmp_path / "worker-b.log").read_text()[-3000:]
    assert rows[0]["attempts"] == 2
    await assert_money_is_right(migrated_db, [user.id])


async def test_a_job_a_dead_worker_took_but_never_started_runs_within_seconds(
    settings: Settings, make_user, migrated_db: str, arq_redis: ArqRedis, tmp_path: Path
) -> None:
    """A worker that dies between taking a job from the queue and claiming it leaves arq's lock on the
    job (the job timeout + 10 s, and once 10 minutes); the sweep must not wait for it to expire."""
    env = fast_env(WORKER_TIERS="basic")
    user = await make_user(100)
    with api_server(env) as base:
        r = post_job(base, user, variant(settings, 3, size=(320, 214)))
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        # what the dead worker left: arq's lock, set 20 s ago, with 110 s still to run
        lock_s = int(env["JOB_TIMEOUT_S"]) + 10
        await arq_redis.psetex(in_progress_key(job_arq_id(job_id)), (lock_s - 20) * 1000, b"1")
        with worker_process(env, tmp_path / "worker.log"):
            rows = await wait_all_final(migrated_db, [user.id], timeout_s=60)
    assert rows[0]["status"] == "completed", (tmp_path / "worker.log").read_text()[-3000:]
    assert rows[0]["attempts"] == 1
    await assert_money_is_right(migrated_db, [user.id])


async def test_jobs_queued_when_redis_restarts_empty_are_enqueued_again(
    settings: Settings, make_user, migrated_db: str, tmp_path: Path
) -> None:
    port = free_port()
    env = fast_env(REDIS_URL=f"redis://127.0.0.1:{port}/0", WORKER_TIERS="basic")
    user = await make_user(100)
    with redis_server(port) as first_redis, api_server(env) as base:
        for i in range(4):
            assert post_job(base, user, variant(settings, i, size=(320, 214))).status_code == 202
        first_redis.kill()
        first_redis.wait(timeout=10)
        # Redis is down: the job still lands in PostgreSQL (the source of truth) and is accepted.
        down = post_job(base, user, variant(settings, 9, size=(320, 214)))
        assert down.status_code == 202, down.text
        with redis_server(port), worker_process(env, tmp_path / "worker.log"):
            rows = await wait_all_final(migrated_db, [user.id], timeout_s=90)
    assert [r["status"] for r in rows] == ["completed"] * 5, (tmp_path / "worker.log").read_text()[-3000:]
    assert all(r["attempts"] == 1 for r in rows)
    await assert_money_is_right(migrated_db, [user.id])


async def test_postgresql_unreachable_gives_503_then_everything_resumes(
    settings: Settings, make_user, migrated_db: str, tmp_path: Path
) -> None:
    user = await make_user(100)
    with tcp_proxy("127.0.0.1", 5432) as proxy:
        via_proxy = migrated_db.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        env = fast_env(DATABASE_URL=via_proxy, DB_POOL_MAX="4", DB_TIMEOUT_S="2", WORKER_TIERS="basic")
        with api_server(env) as base, worker_process(env, tmp_path / "worker.log"):
            ids = []
            for i in range(6):
                r = post_job(base, user, variant(settings, i, size=(640, 428)))
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            proxy.cut()
            started = time.monotonic()
            listing = httpx.get(base + API + "/jobs", headers=user.headers, timeout=30)
            elapsed = time.monotonic() - started
            assert listing.status_code == 503, listing.text
            assert listing.headers["content-type"].startswith("application/problem+json")
            assert listing.json()["code"] == "database_unavailable"
            assert listing.headers["retry-after"]
            assert elapsed < 15
            refused = post_job(base, user, variant(settings, 7))
            assert refused.status_code == 503
            assert refused.json()["code"] == "database_unavailable"
            ready = httpx.get(base + API + "/health/ready", timeout=30)
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"]["ok"] is False
            await asyncio.sleep(6)
            proxy.restore()
            rows = await wait_all_final(migrated_db, [user.id], timeout_s=120)
            assert httpx.get(base + API + "/jobs", headers=user.headers, timeout=30).status_code == 200
    assert sorted(str(r["id"]) for r in rows) == sorted(ids)
    assert [r["status"] for r in rows] == ["completed"] * 6, (tmp_path / "worker.log").read_text()[-4000:]
    await assert_money_is_right(migrated_db, [user.id])


async def test_a_worker_stopped_gracefully_mid_batch_finishes_or_hands_back_its_job(
    settings: Settings, make_user, migrated_db: str, tmp_path: Path
) -> None:
    env = fast_env(WORKER_TIERS="standard", WORKER_SHUTDOWN_GRACE_S="30")
    user = await make_user(200)
    files = [("images[]", (f"{i}.jpg", variant(settings, i, size=(1600, 1072)), "image/jpeg")) for i in range(8)]
    with api_server(env) as base:
        r = httpx.post(
            base + API + "/batches", files=files, data={"tier": "standard"}, headers=user.headers, timeout=60
        )
        assert r.status_code == 202, r.text
        batch_id = uuid.UUID(r.json()["id"])

        async def some_done() -> bool:
            conn = await asyncpg.connect(migrated_db)
            try:
                done = await conn.fetchval(
                    "SELECT processed_images FROM background_removal_batch WHERE id = $1", batch_id
                )
            finally:
                await conn.close()
            return bool(done and done >= 2)

        with worker_process(env, tmp_path / "worker-a.log") as first:
            await wait_for(some_done, 90, "the first worker to finish two images")
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=60) == 0
        conn = await asyncpg.connect(migrated_db)
        try:
            left = await conn.fetch(
                "SELECT status FROM background_removal_job WHERE batch_id = $1 AND status = 'processing'", batch_id
            )
        finally:
            await conn.close()
        assert not left, "a gracefully stopped worker left a job half-done"
        with worker_process(env, tmp_path / "worker-b.log"):
            rows = await wait_all_final(migrated_db, [user.id], timeout_s=120)
            batch = httpx.get(base + API + f"/batches/{batch_id}", headers=user.headers, timeout=30).json()
            deadline = time.monotonic() + 30
            while batch["status"] == "processing" and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                batch = httpx.get(base + API + f"/batches/{batch_id}", headers=user.headers, timeout=30).json()
    assert [r["status"] for r in rows] == ["completed"] * 8
    assert batch["status"] == "completed"
    assert batch["links"]["download"]
    await assert_money_is_right(migrated_db, [user.id])
