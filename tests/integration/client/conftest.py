"""Fixtures of the client tests: the end-to-end fixtures (users, a burst worker) and the real API as a process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.e2e.conftest import make_user, queue, run_worker  # noqa: F401  (re-exported fixtures)
from tests.support.processes import api_server, env_with


@pytest.fixture(scope="module")
def base_url(migrated_db: str) -> Iterator[str]:
    """The real API (``uvicorn api.app:create_app``) as a subprocess sharing the run's database, queue,
    JWT secret and storage (all inherited from the environment the root conftest set)."""
    with api_server(env_with()) as url:
        yield url
