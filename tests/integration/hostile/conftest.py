"""Fixtures of the hostile-input suite: the end-to-end fixtures (in-process API, users, a queue, a burst worker)."""

from __future__ import annotations

from tests.integration.e2e.conftest import api, make_user, queue, run_worker  # noqa: F401  (re-exported fixtures)
