"""Fixtures for a deployment configured for the original Lumiku clients (registered in ``tests/conftest.py``):
Lumiku's tokens (``userId``, no issuer or audience), its frontend's origin allowed by CORS."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits
from tests.support.api_client import User
from tests.support.processes import api_server, env_with
from tests.support.tokens import auth, lumiku_token

LUMIKU_ORIGIN = "https://app.lumiku.example"
LUMIKU_ENV = {"JWT_USER_CLAIM": "userId", "JWT_ISSUER": "", "JWT_AUDIENCE": "", "CORS_ALLOWED_ORIGINS": LUMIKU_ORIGIN}


@pytest.fixture(scope="session")
def lumiku_settings(settings: Settings) -> Settings:
    """What docs/compat.md tells a Lumiku deployment to set (same secret as Lumiku's backend)."""
    return dataclasses.replace(
        settings,
        jwt_user_claim=LUMIKU_ENV["JWT_USER_CLAIM"],
        jwt_issuer=LUMIKU_ENV["JWT_ISSUER"],
        jwt_audience=LUMIKU_ENV["JWT_AUDIENCE"],
        cors_allowed_origins=LUMIKU_ENV["CORS_ALLOWED_ORIGINS"],
    )


@pytest.fixture
async def lumiku_api(lumiku_settings: Settings, migrated_db: str, queue: ArqRedis) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """The app in-process with the Lumiku settings, the run's queue emptied first."""
    async with AsyncTestClient(app=create_app(lumiku_settings), timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def lumiku_base_url(migrated_db: str) -> Iterator[str]:
    """The real API as a process with the Lumiku settings. Routes that wait for the worker need it: the
    in-process test client runs the app in a thread and blocks the event loop a test's worker runs in."""
    with api_server(env_with(**LUMIKU_ENV)) as url:
        yield url


@pytest.fixture
async def lumiku_http(lumiku_base_url: str, queue: ArqRedis) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lumiku_base_url, timeout=120) as client:
        yield client


@pytest.fixture
def make_lumiku_user(lumiku_settings: Settings, migrated_db: str) -> Callable[..., Awaitable[User]]:
    """A user with credits and a Lumiku-style bearer token (Lumiku's ids are cuids)."""

    async def make(credits_granted: int = 1000) -> User:
        user_id = f"cl{uuid.uuid4().hex[:23]}"
        if credits_granted:
            await credits.grant(user_id, credits_granted, reason="test", entry_key=f"test-grant:{user_id}")
        return User(user_id, auth(lumiku_token(lumiku_settings, user_id)))

    return make
