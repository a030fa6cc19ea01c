"""Suite-wide set-up: every run gets its own PostgreSQL database and Redis queue.

The environment is set here, before any project module is imported, because Piccolo's engine and
the settings read it once. The database is created (and migrated) only when an integration test
asks for it, and dropped at the end of the run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

RUN_ID = uuid.uuid4().hex[:10]
# Tests use the public development webhook secret and private webhook targets; production would refuse both.
os.environ["BGREMOVER_ENV"] = "development"
_SERVER_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432")
TEST_DB_NAME = f"bgremover_test_{RUN_ID}"
os.environ["DATABASE_URL"] = f"{_SERVER_DSN}/{TEST_DB_NAME}"
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["QUEUE_NAME"] = f"bgremover:test:{RUN_ID}"
os.environ["JWT_SECRET"] = f"test-secret-{RUN_ID}-{uuid.uuid4().hex}"
# The in-process test client runs the app on another event loop; a pool would be bound to it.
os.environ["DB_POOL_MAX"] = "0"
os.environ.setdefault("STORAGE_DIR", f"/tmp/bgremover-test-{RUN_ID}/storage")
os.environ["WORKER_HEARTBEAT_INTERVAL_S"] = "1"
os.environ["WORKER_HEARTBEAT_TTL_S"] = "5"
os.environ["PICCOLO_CONF"] = "db.piccolo_conf"

from core.settings import Settings, get_settings  # noqa: E402
from tests.support import databases  # noqa: E402


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
