"""Fixtures for the run's settings and its PostgreSQL databases (registered in ``tests/conftest.py``).

The database is created (and migrated) only when a test asks for it, and dropped at the end of the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from core.settings import Settings, get_settings
from tests.support import databases


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def migrated_db(settings: Settings) -> Iterator[str]:
    """The run's database with every migration applied (created once, dropped at the end)."""
    asyncio.run(databases.create_database(settings.database_url))
    result = asyncio.run(databases.migrate(settings.database_url))
    assert result.success, result.message
    yield settings.database_url
    asyncio.run(databases.drop_database(settings.database_url))


@pytest.fixture
async def empty_db(settings: Settings) -> AsyncIterator[str]:
    """A brand-new database with no tables at all, dropped after the test."""
    dsn = databases.scratch_dsn(settings.database_url)
    await databases.create_database(dsn)
    try:
        yield dsn
    finally:
        await databases.drop_database(dsn)
