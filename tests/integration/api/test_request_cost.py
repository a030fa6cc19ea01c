"""What one request costs the database, with the connection pool production runs (``DB_POOL_MAX`` > 0).

Under ``make load`` every statement is a round trip on a busy machine, and the API is one event loop:
``POST /jobs`` took fourteen (three of them asyncpg's reset of a pooled connection after each statement
outside the transaction) and a poll took two for one ``SELECT``. Statements are counted at asyncpg, under
the real app, the real pool and the real PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits
from tests.support.api_client import API
from tests.support.images import variant
from tests.support.tokens import auth, token


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement any asyncpg connection sends, in order (asyncpg's own reset query included)."""
    sent: list[str] = []
    execute, execute_with_args = asyncpg.Connection.execute, asyncpg.Connection._execute

    async def simple(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments, execute goes through _execute, counted there
            sent.append(query)
        return await execute(self, query, *args, **kwargs)

    async def extended(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(query)
        return await execute_with_args(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "execute", simple)
    monkeypatch.setattr(asyncpg.Connection, "_execute", extended)
    yield sent


async def test_a_poll_is_one_statement_and_a_submission_five(
    settings: Settings, migrated_db: str, statements: list[str]
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:10]}"
    await credits.grant(user_id, 100, reason="test", entry_key=f"test-grant:{user_id}")  # before the pool exists
    headers = auth(token(settings, user_id))
    pooled = dataclasses.replace(settings, db_pool_min=1, db_pool_max=2)
    image = variant(settings, 0, size=(640, 480))
    async with AsyncTestClient(app=create_app(pooled), timeout=60) as api:
        statements.clear()
        r = await api.post(
            API + "/jobs", files={"image": ("a.jpg", image, "image/jpeg")}, data={"tier": "basic"}, headers=headers
        )
        assert r.status_code == 202, r.text
        submitted = list(statements)
        statements.clear()
        r = await api.get(f"{API}/jobs/{r.json()['id']}", headers=headers)
        assert r.status_code == 200, r.text
        polled = list(statements)
    assert not [s for s in submitted + polled if "RESET ALL" in s], "a pooled connection is reset after each use"
    assert len(polled) == 1, polled
    # one look before anything is stored (balance, subscription quota left, stored bytes); then BEGIN, the
    # user's lock, one statement that checks their queue, storage room and balance, inserts the job and
    # takes the price, and COMMIT
    assert len(submitted) == 5, submitted
