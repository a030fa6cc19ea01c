"""End-to-end fixtures: the API in-process over HTTP, real arq workers in burst mode, real models."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits
from tests.support.tokens import auth, token
from worker.engine import Engine
from worker.runner import create_worker

API = "/api/background-remover"


@dataclasses.dataclass
class User:
    id: str
    headers: dict[str, str]


@pytest.fixture
async def queue(settings: Settings, arq_redis: ArqRedis, migrated_db: str) -> ArqRedis:
    """This run's queue, empty (no leftovers from earlier tests); other runs sharing Redis are untouched."""
    queued = await arq_redis.zrange(settings.queue_name, 0, -1)
    ids = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in queued]
    keys = [f"arq:{kind}:{job_id}" for job_id in ids for kind in ("job", "in-progress", "retry", "result")]
    if keys:
        await arq_redis.delete(*keys)
    await arq_redis.delete(settings.queue_name)
    return arq_redis


@pytest.fixture
def make_user(settings: Settings, migrated_db: str) -> Callable[..., Awaitable[User]]:
    async def make(credits_granted: int = 1000) -> User:
        user_id = f"user-{uuid.uuid4().hex[:10]}"
        if credits_granted:
            await credits.grant(user_id, credits_granted, reason="test", entry_key=f"test-grant:{user_id}")
        return User(user_id, auth(token(settings, user_id)))

    return make


@pytest.fixture
def run_worker(settings: Settings, queue: ArqRedis, engine: Engine) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Run a real worker in burst mode until the queue is empty; returns its ctx."""

    async def run(worker_settings: Settings | None = None) -> dict[str, Any]:
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


async def balance(client: AsyncTestClient, user: User) -> int:  # type: ignore[type-arg]
    r = await client.get(API + "/credits/balance", headers=user.headers)
    assert r.status_code == 200
    return int(r.json()["balance"])
