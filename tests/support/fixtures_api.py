"""Fixtures for the API: in-process test clients, the real API as a process, and users with credits
(registered in ``tests/conftest.py``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits
from tests.support.api_client import User
from tests.support.processes import api_server, env_with
from tests.support.tokens import auth, token


@pytest.fixture
async def client(migrated_db: str, settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture
async def api(settings: Settings, migrated_db: str, queue: ArqRedis) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """The app in-process over HTTP, with the run's queue emptied first."""
    async with AsyncTestClient(app=create_app(settings), timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def base_url(migrated_db: str) -> Iterator[str]:
    """The real API (``uvicorn api.app:create_app``) as a subprocess sharing the run's database, queue,
    JWT secret and storage (all inherited from the environment the root conftest set)."""
    with api_server(env_with()) as url:
        yield url


@pytest.fixture
def make_user(settings: Settings, migrated_db: str) -> Callable[..., Awaitable[User]]:
    async def make(credits_granted: int = 1000) -> User:
        user_id = f"user-{uuid.uuid4().hex[:10]}"
        if credits_granted:
            await credits.grant(user_id, credits_granted, reason="test", entry_key=f"test-grant:{user_id}")
        return User(user_id, auth(token(settings, user_id)))

    return make
