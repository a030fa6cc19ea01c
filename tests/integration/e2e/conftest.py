"""End-to-end fixtures: the API in-process over HTTP, real arq workers in burst mode, real models."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from core.tasks import job_arq_id, webhook_queue
from db import credits
from engine.pipeline import Engine
from tests.support.tokens import auth, token
from worker.runner import create_worker

API = "/api/background-remover"


@dataclasses.dataclass
class User:
    id: str
    headers: dict[str, str]


@pytest.fixture
async def queue(settings: Settings, arq_redis: ArqRedis, migrated_db: str) -> ArqRedis:
    """This run's queues (jobs and webhooks), empty (no leftovers from earlier tests); other runs sharing
    Redis are untouched."""
    for name in (settings.queue_name, webhook_queue(settings.queue_name)):
        queued = await arq_redis.zrange(name, 0, -1)
        ids = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in queued]
        keys = [f"arq:{kind}:{job_id}" for job_id in ids for kind in ("job", "in-progress", "retry", "result")]
        if keys:
            await arq_redis.delete(*keys)
        await arq_redis.delete(name)
    return arq_redis


@pytest.fixture
def make_user(settings: Settings, migrated_db: str) -> Callable[..., Awaitable[User]]:
    async def make(credits_granted: int = 1000) -> User:
        user_id = f"user-{uuid.uuid4().hex[:10]}"
        if credits_granted:
            await credits.grant(user_id, credits_granted, reason="test", entry_key=f"test-grant:{user_id}")
        return User(user_id, auth(token(settings, user_id)))

    return make


async def _wait_until_enqueued(redis: ArqRedis, settings: Settings, dsn: str, timeout_s: float = 3.0) -> None:
    """The API enqueues after sending its answer: give those enqueues a moment to land, so a burst
    worker does not find the queue empty and leave. Pending jobs Redis never gets (a test that
    simulates a Redis loss) are left to the worker's sweep after the timeout."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id FROM background_removal_job "
            "WHERE status = 'pending' AND created_at > now() - interval '10 seconds'"
        )
    finally:
        await conn.close()
    pending = [r["id"] for r in rows]
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        scores = [await redis.zscore(settings.queue_name, job_arq_id(job_id)) for job_id in pending]
        if all(score is not None for score in scores):
            return
        await asyncio.sleep(0.05)


@pytest.fixture
def run_worker(
    settings: Settings, queue: ArqRedis, engine: Engine, migrated_db: str
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Run a real worker in burst mode until the queue is empty; returns its ctx."""

    async def run(worker_settings: Settings | None = None) -> dict[str, Any]:
        await _wait_until_enqueued(queue, worker_settings or settings, migrated_db)
        worker = create_worker(worker_settings or settings, burst=True, handle_signals=False, ctx={"engine": engine})
        try:
            await worker.async_run()
        finally:
            await worker.close()
        return worker.ctx

    return run


@pytest.fixture
async def api(settings: Settings, migrated_db: str, queue: ArqRedis) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings), timeout=60) as client:
        yield client


async def submit(
    client: AsyncTestClient,  # type: ignore[type-arg]
    user: User,
    image: bytes,
    *,
    tier: str = "basic",
    filename: str = "photo.jpg",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    return await client.post(
        API + "/jobs",
        files={"image": (filename, image, "application/octet-stream")},
        data={"tier": tier, **fields},
        headers={**user.headers, **(headers or {})},
    )


async def webhook_secret(client: AsyncTestClient, user: User) -> str:  # type: ignore[type-arg]
    """Create (or rotate) the user's webhook signing secret through the API; the one time it is shown."""
    r = await client.post(API + "/webhooks/secret", headers=user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


async def balance(client: AsyncTestClient, user: User) -> int:  # type: ignore[type-arg]
    r = await client.get(API + "/credits/balance", headers=user.headers)
    assert r.status_code == 200
    return int(r.json()["balance"])
