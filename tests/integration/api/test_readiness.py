"""Readiness tells the truth about the database schema, Redis and the workers."""

from __future__ import annotations

import dataclasses

import httpx
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db.migrations import migration_ids
from tests.support.processes import api_server, env_with, run_module
from tests.support.tokens import auth, token

READY = "/api/background-remover/health/ready"
LIVE = "/api/background-remover/health/live"


async def test_live_needs_no_token_and_no_database(settings: Settings) -> None:
    dead = dataclasses.replace(settings, database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    async with AsyncTestClient(app=create_app(dead)) as c:
        r = await c.get(LIVE)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_is_503_naming_pending_migrations_then_200_after_migrate(
    empty_db: str, settings: Settings, running_worker: dict[str, object]
) -> None:
    """The outage that made us: a service started against an unmigrated database must say so."""
    unmigrated = dataclasses.replace(settings, database_url=empty_db)
    async with AsyncTestClient(app=create_app(unmigrated)) as c:
        before = await c.get(READY)
        assert before.status_code == 503
        assert before.headers["content-type"].startswith("application/problem+json")
        body = before.json()
        assert body["code"] == "schema_not_ready"
        assert body["pendingMigrations"] == migration_ids()
        assert "background_removal_job" in body["missingTables"]
        assert body["checks"]["worker"]["ok"] is True

        migrated = run_module("db.cli", "migrate", env=env_with(DATABASE_URL=empty_db))
        assert migrated.returncode == 0, migrated.stderr

        after = await c.get(READY)
        assert after.status_code == 200, after.text
        assert after.json()["status"] == "ready"
        assert after.json()["workers"] >= 1


async def test_api_routes_refuse_to_serve_an_unmigrated_database_until_migrated(
    empty_db: str, settings: Settings
) -> None:
    unmigrated = dataclasses.replace(settings, database_url=empty_db)
    env = env_with(DATABASE_URL=empty_db)
    with api_server(env) as base:
        r = httpx.get(base + "/api/background-remover/jobs", headers=auth(token(settings)))
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "schema_not_ready"
        assert r.json()["pendingMigrations"] == migration_ids()
        assert "Retry-After" in r.headers
        assert "does not exist" not in r.text

        assert run_module("db.cli", "migrate", env=env).returncode == 0
        # The gate re-reads a behind schema every 2 s, so it opens without a restart.
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = httpx.get(base + "/api/background-remover/jobs", headers=auth(token(settings)))
            if r.status_code == 200:
                break
            time.sleep(0.5)
        assert r.status_code == 200, r.text
        assert r.json()["jobs"] == []
    del unmigrated


async def test_ready_is_503_without_a_worker(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    r = await client.get(READY)
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == "no_worker"
    assert body["checks"]["schema"]["ok"] is True
    assert body["checks"]["database"]["ok"] is True


async def test_ready_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    dead = dataclasses.replace(settings, database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    async with AsyncTestClient(app=create_app(dead)) as c:
        r = await c.get(READY)
    assert r.status_code == 503
    assert r.json()["code"] == "database_unavailable"
    assert r.json()["checks"]["database"]["ok"] is False


async def test_ready_reports_each_tiers_availability(settings: Settings, tmp_path) -> None:
    """A tier whose model is missing is reported unavailable in readiness (and in /pricing)."""
    partial = dataclasses.replace(settings, model_dir=tmp_path)
    (tmp_path / "u2netp.onnx").write_bytes(b"")  # wrong size: not installed
    async with AsyncTestClient(app=create_app(partial)) as c:
        r = await c.get(READY)
    body = r.json()
    assert body["tiers"] == {"basic": False, "standard": False, "professional": False, "industry": False}
    assert body["checks"]["models"]["ok"] is False
    assert "make models" in body["checks"]["models"]["detail"]
