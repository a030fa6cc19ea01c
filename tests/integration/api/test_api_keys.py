"""API keys: created once with a bearer token, listed without the key, accepted as ``X-Api-Key`` on our
own routes as the same user, revoked, bounded per user, and stored only as a hash."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.api_client import API, User
from tests.support.api_keys import create_key, key_header
from tests.support.processes import run_module
from tests.support.tokens import auth, token

MakeUser = Callable[..., Awaitable[User]]
Client = AsyncTestClient[Litestar]


async def test_a_created_key_works_as_x_api_key_for_the_same_user(client: Client, make_user: MakeUser) -> None:
    user = await make_user(40)
    created = await create_key(client, user, name="laptop script")
    key = created["key"]
    assert key.startswith("bgr_") and len(key) == 47
    assert created["prefix"] == key[:12]
    assert created["name"] == "laptop script"
    assert created["lastUsedAt"] is None

    balance = await client.get(API + "/credits/balance", headers=key_header(key))
    assert balance.status_code == 200
    assert balance.json() == {"balance": 40, "userId": user.id}
    jobs = await client.get(API + "/jobs", headers=key_header(key))
    assert jobs.status_code == 200 and jobs.json()["jobs"] == []


async def test_the_list_never_shows_the_key(client: Client, make_user: MakeUser) -> None:
    user = await make_user(0)
    first = await create_key(client, user, name="one")
    second = await create_key(client, user)
    r = await client.get(API + "/api-keys", headers=user.headers)
    assert r.status_code == 200
    listed = r.json()["apiKeys"]
    assert [k["id"] for k in listed] == [first["id"], second["id"]]
    assert [k["name"] for k in listed] == ["one", ""]
    assert set(listed[0]) == {"id", "prefix", "name", "scope", "createdAt", "lastUsedAt"}
    assert [k["scope"] for k in listed] == ["basic", "basic"]
    assert first["key"] not in r.text and second["key"] not in r.text
    # used once: the list says when
    await client.get(API + "/credits/balance", headers=key_header(first["key"]))
    listed = (await client.get(API + "/api-keys", headers=user.headers)).json()["apiKeys"]
    assert listed[0]["lastUsedAt"] is not None and listed[1]["lastUsedAt"] is None


async def test_a_revoked_key_is_refused_with_401(client: Client, make_user: MakeUser) -> None:
    user = await make_user(0)
    created = await create_key(client, user)
    assert (await client.get(API + "/credits/balance", headers=key_header(created["key"]))).status_code == 200
    r = await client.delete(f"{API}/api-keys/{created['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json()["id"] == created["id"] and "key" not in r.json()

    refused = await client.get(API + "/credits/balance", headers=key_header(created["key"]))
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert refused.json()["detail"].startswith("Missing or invalid API key")
    assert (await client.get(API + "/api-keys", headers=user.headers)).json()["apiKeys"] == []
    again = await client.delete(f"{API}/api-keys/{created['id']}", headers=user.headers)
    assert again.status_code == 404


async def test_unknown_and_malformed_keys_are_401(client: Client) -> None:
    for key in ["bgr_" + "A" * 43, "not-a-key", "bgr_short", ""]:
        r = await client.get(API + "/credits/balance", headers=key_header(key))
        assert r.status_code == 401, key
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_another_users_key_id_is_not_found_and_keeps_working(client: Client, make_user: MakeUser) -> None:
    alice, mallory = await make_user(0), await make_user(0)
    alices = await create_key(client, alice)
    r = await client.delete(f"{API}/api-keys/{alices['id']}", headers=mallory.headers)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert (await client.delete(f"{API}/api-keys/{uuid.uuid4()}", headers=alice.headers)).status_code == 404
    assert (await client.get(API + "/credits/balance", headers=key_header(alices["key"]))).status_code == 200
    assert (await client.get(API + "/api-keys", headers=mallory.headers)).json()["apiKeys"] == []


async def test_keys_are_stored_only_as_their_sha256(client: Client, make_user: MakeUser, migrated_db: str) -> None:
    user = await make_user(0)
    created = await create_key(client, user, name="stored")
    conn = await asyncpg.connect(migrated_db)
    try:
        row = await conn.fetchrow("SELECT * FROM api_key WHERE id = $1", uuid.UUID(created["id"]))
    finally:
        await conn.close()
    assert row is not None
    assert row["key_hash"] == hashlib.sha256(created["key"].encode()).hexdigest()
    assert row["prefix"] == created["key"][:12]
    # no column holds the key, nor anything of it past the shown prefix
    secret_part = created["key"][12:]
    assert all(secret_part not in str(value) for value in dict(row).values())


async def test_an_api_key_cannot_create_keys(client: Client, make_user: MakeUser) -> None:
    user = await make_user(0)
    created = await create_key(client, user)
    r = await client.post(API + "/api-keys", headers=key_header(created["key"]))
    assert r.status_code == 403
    assert r.json()["code"] == "token_required"
    # not even a manage key can make one
    manage = await create_key(client, user, scope="manage")
    r = await client.post(API + "/api-keys", json={"scope": "manage"}, headers=key_header(manage["key"]))
    assert r.status_code == 403 and r.json()["code"] == "token_required"
    # listing and revoking with a key are fine (a leaked key can be revoked by itself)
    assert (await client.get(API + "/api-keys", headers=key_header(created["key"]))).status_code == 200
    revoked = await client.delete(f"{API}/api-keys/{created['id']}", headers=key_header(created["key"]))
    assert revoked.status_code == 200


async def test_a_token_and_a_key_together_are_refused(client: Client, make_user: MakeUser, settings: Settings) -> None:
    user = await make_user(0)
    created = await create_key(client, user)
    other = auth(token(settings, f"user-{uuid.uuid4().hex[:8]}"))
    r = await client.get(API + "/credits/balance", headers={**other, **key_header(created["key"])})
    assert r.status_code == 401
    assert "not both" in r.json()["detail"]


async def test_keys_per_user_are_bounded(settings: Settings, make_user: MakeUser) -> None:
    app = create_app(dataclasses.replace(settings, max_api_keys_per_user=2))
    async with AsyncTestClient(app=app) as client:
        user = await make_user(0)
        first = await create_key(client, user)
        await create_key(client, user)
        r = await client.post(API + "/api-keys", headers=user.headers)
        assert r.status_code == 409
        assert r.json()["code"] == "api_key_limit_reached"
        assert r.json()["limit"] == 2
        # a revoked key frees its place
        await client.delete(f"{API}/api-keys/{first['id']}", headers=user.headers)
        assert (await client.post(API + "/api-keys", headers=user.headers)).status_code == 201


async def test_names_are_bounded(client: Client, make_user: MakeUser) -> None:
    user = await make_user(0)
    r = await client.post(API + "/api-keys", json={"name": "x" * 101}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_options"


async def test_token_and_key_share_the_users_rate_limit(settings: Settings, make_user: MakeUser) -> None:
    app = create_app(dataclasses.replace(settings, rate_limit_per_s=0.01, rate_limit_burst=3))
    async with AsyncTestClient(app=app) as client:
        user = await make_user(0)
        created = await create_key(client, user)  # 1 of the burst of 3
        assert (await client.get(API + "/credits/balance", headers=key_header(created["key"]))).status_code == 200
        assert (await client.get(API + "/credits/balance", headers=user.headers)).status_code == 200
        limited = await client.get(API + "/credits/balance", headers=key_header(created["key"]))
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"


async def test_make_api_key_prints_a_working_key(client: Client, make_user: MakeUser) -> None:
    user = await make_user(7)
    done = await asyncio.to_thread(run_module, "db.admin", "api-key", "--user", user.id)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("bgr_") and "\n" not in key
    r = await client.get(API + "/credits/balance", headers=key_header(key))
    assert r.json() == {"balance": 7, "userId": user.id}
    listed = (await client.get(API + "/api-keys", headers=user.headers)).json()["apiKeys"]
    assert [(k["name"], k["scope"]) for k in listed] == [("created with make api-key", "basic")]

    wider = await asyncio.to_thread(run_module, "db.admin", "api-key", "--user", user.id, "--scope", "manage")
    assert wider.returncode == 0, wider.stderr
    listed = (await client.get(API + "/api-keys", headers=user.headers)).json()["apiKeys"]
    assert [k["scope"] for k in listed] == ["basic", "manage"]
    refused = await asyncio.to_thread(run_module, "db.admin", "api-key", "--user", user.id, "--scope", "admin")
    assert refused.returncode == 2 and "--scope" in refused.stderr


async def test_a_default_key_cannot_rotate_the_webhook_secret_or_revoke_other_keys(
    client: Client, make_user: MakeUser
) -> None:
    """A leaked key used to rotate the webhook secret (its holder then signs deliveries the receiver
    trusts) and revoke the owner's other keys. A ``basic`` key does the work it was made for, and revokes
    itself; the rest is ``403 insufficient_scope`` and changes nothing."""
    user = await make_user(10)
    leaked, other = await create_key(client, user, name="leaked"), await create_key(client, user, name="ci")
    secret = await client.post(API + "/webhooks/secret", headers=user.headers)
    fingerprint = (await client.get(API + "/webhooks/secret", headers=user.headers)).json()["fingerprint"]

    rotated = await client.post(API + "/webhooks/secret", headers=key_header(leaked["key"]))
    assert rotated.status_code == 403, rotated.text
    assert rotated.headers["content-type"].startswith("application/problem+json")
    assert rotated.json()["code"] == "insufficient_scope" and rotated.json()["requiredScope"] == "manage"
    assert secret.json()["secret"] not in rotated.text
    after = await client.get(API + "/webhooks/secret", headers=key_header(leaked["key"]))
    assert after.status_code == 200 and after.json()["fingerprint"] == fingerprint

    revoked = await client.delete(f"{API}/api-keys/{other['id']}", headers=key_header(leaked["key"]))
    assert revoked.status_code == 403 and revoked.json()["code"] == "insufficient_scope"
    assert (await client.get(API + "/credits/balance", headers=key_header(other["key"]))).status_code == 200
    # unknown ids get the same answer: a basic key learns nothing about which ids exist
    unknown = await client.delete(f"{API}/api-keys/{uuid.uuid4()}", headers=key_header(leaked["key"]))
    assert unknown.status_code == 403

    # what a basic key is for still works
    assert (await client.get(API + "/jobs", headers=key_header(leaked["key"]))).status_code == 200
    assert (await client.get(API + "/stats", headers=key_header(leaked["key"]))).status_code == 200
    assert (await client.get(API + "/api-keys", headers=key_header(leaked["key"]))).status_code == 200
    assert leaked["scope"] == "basic"
    itself = await client.delete(f"{API}/api-keys/{leaked['id']}", headers=key_header(leaked["key"]))
    assert itself.status_code == 200
    assert (await client.get(API + "/credits/balance", headers=key_header(leaked["key"]))).status_code == 401


async def test_a_default_key_cannot_spend_the_balance_on_a_plan_or_cancel_a_paid_one(
    client: Client, make_user: MakeUser
) -> None:
    """A leaked ``basic`` key subscribed its owner to a plan (990 of 1000 credits gone) and then cancelled
    it, which refunds nothing; it also cancelled an operator-granted plan. Subscribing, renewing and
    cancelling now need a token or a ``manage`` key, on our routes and Lumiku's."""
    user = await make_user(1000)
    leaked = key_header((await create_key(client, user))["key"])
    for method, path, body in [
        ("POST", API + "/subscription", {"plan": "starter"}),
        ("POST", API + "/subscription/subscribe", {"plan": "starter"}),
        ("POST", API + "/subscription/renew", None),
        ("DELETE", API + "/subscription", None),
        ("POST", API + "/subscription/cancel", None),
    ]:
        r = await client.request(method, path, json=body, headers=leaked)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["code"] == "insufficient_scope" and r.json()["requiredScope"] == "manage"
    assert (await client.get(API + "/credits/balance", headers=leaked)).json()["balance"] == 1000

    bought = await client.post(API + "/subscription", json={"plan": "starter"}, headers=user.headers)
    assert bought.status_code == 201, bought.text
    cancel = await client.delete(API + "/subscription", headers=leaked)
    assert cancel.status_code == 403
    assert (await client.get(API + "/subscription", headers=leaked)).json()["subscription"]["status"] == "active"
    manage = key_header((await create_key(client, user, scope="manage"))["key"])
    assert (await client.delete(API + "/subscription", headers=manage)).status_code == 200


async def test_a_manage_key_is_made_only_when_a_token_asks_for_it(client: Client, make_user: MakeUser) -> None:
    user = await make_user(0)
    manage = await create_key(client, user, name="rotation job", scope="manage")
    other = await create_key(client, user)
    assert (manage["scope"], other["scope"]) == ("manage", "basic")
    listed = (await client.get(API + "/api-keys", headers=user.headers)).json()["apiKeys"]
    assert [k["scope"] for k in listed] == ["manage", "basic"]

    rotated = await client.post(API + "/webhooks/secret", headers=key_header(manage["key"]))
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    revoked = await client.delete(f"{API}/api-keys/{other['id']}", headers=key_header(manage["key"]))
    assert revoked.status_code == 200, revoked.text

    unknown = await client.post(API + "/api-keys", json={"scope": "admin"}, headers=user.headers)
    assert unknown.status_code == 400, unknown.text
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["code"] == "validation_error"
