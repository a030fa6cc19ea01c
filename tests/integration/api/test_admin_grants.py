"""Granting credits is printing money: only a user the operator listed in ``ADMIN_USERS`` may do it.

A ``scope: admin`` claim is whatever the token's signer wrote; with the old rule a token signed with
the public development secret and that claim granted itself 10,000,000 credits.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.tokens import auth, token

API = "/api/background-remover"
GRANTS = API + "/credits/grants"


@pytest.fixture
async def ops_client(migrated_db: str, settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The API with one configured admin, ``ops``."""
    async with AsyncTestClient(app=create_app(dataclasses.replace(settings, admin_users="ops"))) as c:
        yield c


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


async def _balance(client: AsyncTestClient[Litestar], settings: Settings, user: str) -> int:
    r = await client.get(API + "/credits/balance", headers=auth(token(settings, user)))
    assert r.status_code == 200, r.text
    return int(r.json()["balance"])


@pytest.mark.parametrize("admin_users", ["", "ops"], ids=["no admins configured", "someone else is admin"])
@pytest.mark.parametrize("scope", ["admin", "admin credits:grant root"])
async def test_a_scope_admin_claim_alone_grants_nothing(
    migrated_db: str, settings: Settings, admin_users: str, scope: str
) -> None:
    app = create_app(dataclasses.replace(settings, admin_users=admin_users))
    attacker = _user()
    async with AsyncTestClient(app=app) as client:
        forged = auth(token(settings, attacker, scope=scope))
        r = await client.post(GRANTS, json={"userId": attacker, "credits": 10_000_000}, headers=forged)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "forbidden"
        assert await _balance(client, settings, attacker) == 0


async def test_a_configured_admin_grants_without_any_scope(
    ops_client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    user = _user()
    r = await ops_client.post(GRANTS, json={"userId": user, "credits": 50}, headers=auth(token(settings, "ops")))
    assert r.status_code == 201, r.text
    assert r.json()["balance"] == 50
    assert await _balance(ops_client, settings, user) == 50


async def test_an_admin_id_in_another_spelling_is_not_an_admin(
    ops_client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    """``OPS`` is another user (403); ``ops `` and ``ops\\u3000`` are not user ids at all (401), where they
    used to be stripped into ``ops``."""
    user = _user()
    for spelling, status in (("OPS", 403), ("ops ", 401), (" ops", 401), ("ops\u3000", 401), ("ops\u200b", 401)):
        r = await ops_client.post(GRANTS, json={"userId": user, "credits": 5}, headers=auth(token(settings, spelling)))
        assert r.status_code == status, (spelling, r.text)
    assert await _balance(ops_client, settings, user) == 0


@pytest.mark.parametrize("target", [" alice", "alice\u3000", "", "a" * 256])
async def test_credits_cannot_be_granted_to_a_user_id_no_token_can_name(
    ops_client: AsyncTestClient[Litestar], settings: Settings, target: str
) -> None:
    r = await ops_client.post(GRANTS, json={"userId": target, "credits": 5}, headers=auth(token(settings, "ops")))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_options"
