"""Suite-wide set-up: every run gets its own PostgreSQL database and Redis queue.

The environment is set here, before any project module is imported, because Piccolo's engine and
the settings read it once. The shared fixtures live in ``tests/support/fixtures_*.py`` and are
registered below with ``pytest_plugins`` (pytest imports them after this module has run, so they see
this environment); the helper functions tests import live in the other ``tests/support`` modules.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

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
# The suite's webhook receivers listen on loopback at free (random) ports; production allows 80 and 443.
os.environ["WEBHOOK_ALLOWED_PORTS"] = "*"
# The suite's image server (``image_url``) listens on loopback at a free port: allowed by name, as an
# operator would allow an internal CDN; everything else private stays refused.
os.environ["IMAGE_URL_ALLOW_HOSTS"] = "127.0.0.1"
os.environ["IMAGE_URL_ALLOWED_PORTS"] = "*"
os.environ.setdefault("IMAGE_URL_TIMEOUT_S", "5")

# The helpers' own asserts get pytest's detailed messages, as they did when they lived in conftest files.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.fixtures_db",
    "tests.support.fixtures_worker",
    "tests.support.fixtures_api",
    "tests.support.fixtures_lumiku",
    "tests.support.fixtures_s3",
    "tests.support.image_server",
]

_TESTS = Path(__file__).parent
# Every test under tests/<directory>/ gets that directory's marker (a conftest's ``pytestmark`` is ignored).
_DIRECTORY_MARKERS = ("unit", "integration", "models")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            directory = item.path.relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        if directory in _DIRECTORY_MARKERS:
            item.add_marker(directory)
