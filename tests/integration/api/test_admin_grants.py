"""Granting credits is printing money: only a user the operator listed in ``ADMIN_USERS`` may do it.

A ``scope: admin`` claim is whatever the token's signer wrote; with the old rule a token signed with
the public development secret and that claim granted itself 10,000,000 credits. And only with a
short-lived token: an admin's API key is refused, and every grant records who made it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.processes import run_module
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


async def _api_key(client: AsyncTestClient[Litestar], settings: Settings, user: str, scope: str) -> str:
    r = await client.post(
        API + "/api-keys", json={"name": "ops laptop", "scope": scope}, headers=auth(token(settings, user))
    )
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


@pytest.mark.parametrize("scope", ["basic", "manage"])
async def test_an_admins_api_key_grants_nothing(
    ops_client: AsyncTestClient[Litestar], settings: Settings, migrated_db: str, scope: str
) -> None:
    """An API key never expires: a leaked admin key granted 1,000,000 credits a call. Whatever its scope,
    it is ``403 token_required`` on every admin route, and nothing is stored."""
    key = {"X-Api-Key": await _api_key(ops_client, settings, "ops", scope)}
    user = _user()
    r = await ops_client.post(GRANTS, json={"userId": user, "credits": 1_000_000}, headers=key)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "token_required"
    assert await _balance(ops_client, settings, user) == 0

    plan = {"userId": user, "plan": "pro", "paymentId": f"leaked-{user}"}
    r = await ops_client.post(API + "/subscriptions/grants", json=plan, headers=key)
    assert r.status_code == 403 and r.json()["code"] == "token_required", r.text
    subscription = await ops_client.get(API + "/subscription", headers=auth(token(settings, user)))
    assert subscription.json() == {"subscription": None}

    listing = await ops_client.get(GRANTS, headers=key)
    assert listing.status_code == 403 and listing.json()["code"] == "token_required"
    # the same admin with a token still can
    ok = await ops_client.post(GRANTS, json={"userId": user, "credits": 5}, headers=auth(token(settings, "ops")))
    assert ok.status_code == 201, ok.text


async def test_every_grant_records_who_made_it(
    ops_client: AsyncTestClient[Litestar], settings: Settings, migrated_db: str
) -> None:
    user = _user()
    admin = auth(token(settings, "ops"))
    r = await ops_client.post(GRANTS, json={"userId": user, "credits": 50, "reason": "invoice 7"}, headers=admin)
    assert r.status_code == 201 and r.json()["grantedBy"] == "ops", r.text
    paid = {"userId": user, "plan": "starter", "paymentId": f"midtrans-{user}"}
    r = await ops_client.post(API + "/subscriptions/grants", json=paid, headers=admin)
    assert r.status_code == 201 and r.json()["grantedBy"] == "ops", r.text
    done = await asyncio.to_thread(
        run_module, "db.admin", "grant", "--user", user, "--credits", "7", "--reason", "goodwill", "--by", "root"
    )
    assert done.returncode == 0, done.stderr

    r = await ops_client.get(GRANTS, params={"userId": user}, headers=admin)
    assert r.status_code == 200, r.text
    listed = [(g["credits"], g["reason"], g["grantedBy"], g["grantedVia"]) for g in r.json()["grants"]]
    assert listed == [
        (7, "goodwill", "root", "cli"),
        (990, f"payment midtrans-{user} for the starter plan", "ops", "token"),
        (50, "invoice 7", "ops", "token"),
    ]
    # the ledger itself holds the actor, not only the answer
    conn = await asyncpg.connect(migrated_db)
    try:
        rows = await conn.fetch(
            "SELECT actor_user_id, actor_method FROM credit_ledger WHERE user_id = $1 AND kind = 'grant'", user
        )
    finally:
        await conn.close()
    assert sorted((r["actor_user_id"], r["actor_method"]) for r in rows) == [
        ("ops", "token"),
        ("ops", "token"),
        ("root", "cli"),
    ]
    printed = await asyncio.to_thread(run_module, "db.admin", "grants", "--user", user)
    assert printed.returncode == 0, printed.stderr
    assert "+7  by root via cli  goodwill" in printed.stdout
    assert "+50  by ops via token  invoice 7" in printed.stdout
    # a user's own token sees no one's grants
    denied = await ops_client.get(GRANTS, params={"userId": user}, headers=auth(token(settings, user)))
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
