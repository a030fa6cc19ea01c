"""No client ever sees a raw database error (the seed's 500 leaked `relation ... does not exist`)."""

from __future__ import annotations

import time

import asyncpg
import httpx

from core.settings import Settings
from tests.support.processes import api_server, env_with, run_module
from tests.support.tokens import auth, token

API = "/api/background-remover"


async def test_a_dropped_table_gives_503_problem_json_without_driver_text(empty_db: str, settings: Settings) -> None:
    env = env_with(DATABASE_URL=empty_db, DB_POOL_MAX="4")
    assert run_module("db.cli", "migrate", env=env).returncode == 0
    with api_server(env) as base:
        headers = auth(token(settings, "dora"))
        assert httpx.get(base + API + "/subscription", headers=headers).status_code == 200

        conn = await asyncpg.connect(empty_db)
        try:
            await conn.execute("DROP TABLE background_remover_subscription_usage")
            await conn.execute("DROP TABLE background_remover_subscription")
        finally:
            await conn.close()

        for path in ("/subscription", "/stats"):
            r = httpx.get(base + API + path, headers=headers)
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            body = r.json()
            assert body["code"] == "schema_not_ready"
            assert body["requestId"] == r.headers["x-request-id"]
            for leak in ("relation", "does not exist", "asyncpg", "Traceback", 'background_remover_subscription"'):
                assert leak not in r.text, r.text

        ready = httpx.get(base + API + "/health/ready")
        assert ready.status_code == 503
        assert "background_remover_subscription" in ready.json()["missingTables"]


async def test_an_unreachable_database_gives_503_database_unavailable_quickly(settings: Settings) -> None:
    env = env_with(DATABASE_URL="postgresql://postgres@127.0.0.1:1/bgremover", DB_TIMEOUT_S="2")
    with api_server(env) as base:
        started = time.monotonic()
        r = httpx.get(base + API + "/jobs", headers=auth(token(settings)), timeout=30)
        elapsed = time.monotonic() - started
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "database_unavailable"
    assert "Retry-After" in r.headers
    assert elapsed < 15
