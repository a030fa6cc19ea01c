"""Subscriptions, quotas, pricing and grants through the API."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import asyncpg
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.api_client import API, balance, submit
from tests.support.images import variant
from tests.support.tokens import auth, token


async def test_pricing_lists_tiers_discounts_plans_and_limits(api, make_user) -> None:
    user = await make_user(0)
    r = await api.get(API + "/pricing", headers=user.headers)
    assert r.status_code == 200
    body = r.json()
    tiers = {t["tier"]: t for t in body["tiers"]}
    assert {k: v["credits"] for k, v in tiers.items()} == {
        "basic": 3,
        "standard": 8,
        "professional": 15,
        "industry": 25,
    }
    assert all(t["available"] for t in tiers.values())
    assert tiers["industry"]["modelLicence"] == "AGPL-3.0 + Apache-2.0 + GPL-3.0"
    assert body["volumeDiscounts"][0] == {"minImages": 20, "maxImages": 49, "percent": 5}
    plans = {p["plan"]: p for p in body["plans"]}
    assert (plans["starter"]["price"], plans["starter"]["currency"], plans["starter"]["credits"]) == (99000, "IDR", 990)
    assert (plans["pro"]["price"], plans["pro"]["credits"]) == (299000, 2990)
    assert plans["pro"]["dailyQuotas"]["industry"] == 20
    assert body["limits"]["batchMaxImages"] == 500


async def test_subscribe_view_cancel(api, make_user) -> None:
    user = await make_user(990 + 2990)
    assert (await api.get(API + "/subscription", headers=user.headers)).json() == {"subscription": None}
    bad = await api.post(API + "/subscription", json={"plan": "platinum"}, headers=user.headers)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_options"
    created = await api.post(API + "/subscription", json={"plan": "starter"}, headers=user.headers)
    assert created.status_code == 201, created.text
    sub = created.json()["subscription"]
    assert sub["plan"] == "starter"
    assert sub["status"] == "active"
    assert sub["dailyQuotas"] == {"basic": 50, "standard": 20}
    assert await balance(api, user) == 2990
    twice = await api.post(API + "/subscription", json={"plan": "pro"}, headers=user.headers)
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_subscribed"
    assert await balance(api, user) == 2990
    stats = (await api.get(API + "/stats", headers=user.headers)).json()["stats"]
    assert stats["hasSubscription"] is True
    assert stats["plan"] == "starter"

    cancelled = await api.delete(API + "/subscription", headers=user.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["subscription"]["status"] == "cancelled"
    assert (await api.get(API + "/stats", headers=user.headers)).json()["stats"]["hasSubscription"] is False
    assert (await api.delete(API + "/subscription", headers=user.headers)).status_code == 409
    again = await api.post(API + "/subscription", json={"plan": "pro"}, headers=user.headers)
    assert again.status_code == 201
    assert again.json()["subscription"]["plan"] == "pro"
    assert await balance(api, user) == 0  # a cancelled period is not refunded


async def test_a_covered_job_costs_nothing_and_a_cancelled_subscription_covers_nothing(
    api, make_user, settings: Settings
) -> None:
    user = await make_user(990 + 30)
    subscribed = await api.post(API + "/subscription", json={"plan": "starter"}, headers=user.headers)
    assert subscribed.status_code == 201, subscribed.text
    assert await balance(api, user) == 30
    covered = (await submit(api, user, variant(settings, 1))).json()
    assert covered["pricingType"] == "subscription"
    assert covered["coveredBySubscription"] is True
    assert covered["creditsCharged"] == 0
    assert await balance(api, user) == 30
    sub = (await api.get(API + "/subscription", headers=user.headers)).json()["subscription"]
    assert sub["usageToday"] == {"basic": 1}

    not_in_plan = (await submit(api, user, variant(settings, 2), tier="professional")).json()
    assert not_in_plan["pricingType"] == "credit"
    assert await balance(api, user) == 15

    # cancelling a covered job gives the quota back
    cancel = await api.delete(f"{API}/jobs/{covered['id']}", headers=user.headers)
    assert cancel.status_code == 200
    sub = (await api.get(API + "/subscription", headers=user.headers)).json()["subscription"]
    assert sub["usageToday"] == {"basic": 0}

    await api.delete(API + "/subscription", headers=user.headers)
    paid = (await submit(api, user, variant(settings, 3))).json()
    assert paid["pricingType"] == "credit"
    assert await balance(api, user) == 12


async def test_concurrent_submissions_never_exceed_the_daily_quota(
    settings: Settings, make_user, queue, migrated_db: str
) -> None:
    """30 concurrent single jobs against a quota of 10: exactly 10 covered, 20 paid."""
    tight = dataclasses.replace(
        settings, subscription_plans_json=json.dumps({"tight": {"price": 100, "daily_quotas": {"basic": 10}}})
    )
    user = await make_user(1 + 60)
    async with AsyncTestClient(app=create_app(tight), timeout=120) as client:
        r = await client.post(API + "/subscription", json={"plan": "tight"}, headers=user.headers)
        assert r.status_code == 201
        assert await balance(client, user) == 60
        responses = await asyncio.gather(*[submit(client, user, variant(settings, i)) for i in range(30)])
        assert [x.status_code for x in responses] == [202] * 30, [x.text for x in responses if x.status_code != 202]
        kinds = [x.json()["pricingType"] for x in responses]
        assert kinds.count("subscription") == 10
        assert kinds.count("credit") == 20
        assert await balance(client, user) == 0
        extra = await submit(client, user, variant(settings, 99))
        assert extra.status_code == 402
    conn = await asyncpg.connect(migrated_db)
    try:
        used = await conn.fetchval(
            "SELECT count FROM background_remover_subscription_usage WHERE user_id = $1 AND tier = 'basic'", user.id
        )
        charges = await conn.fetchval(
            "SELECT count(*) FROM credit_ledger WHERE user_id = $1 AND kind = 'charge' AND job_id IS NOT NULL", user.id
        )
    finally:
        await conn.close()
    assert used == 10
    assert charges == 20


async def test_admin_grant_endpoint(settings: Settings, api, make_user) -> None:
    user = await make_user(0)
    forbidden = await api.post(API + "/credits/grants", json={"userId": user.id, "credits": 5}, headers=user.headers)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
    # an operator's deployment that names "ops" as its admin (settings are read once, when the app is built)
    async with AsyncTestClient(app=create_app(dataclasses.replace(settings, admin_users="ops"))) as ops_api:
        admin = auth(token(settings, "ops"))
        body = {"userId": user.id, "credits": 50, "grantId": f"welcome-{user.id}"}
        first = await ops_api.post(API + "/credits/grants", json=body, headers=admin)
        second = await ops_api.post(API + "/credits/grants", json=body, headers=admin)
        assert first.status_code == second.status_code == 201
        assert first.json()["granted"] is True
        assert second.json()["granted"] is False
        assert await balance(api, user) == 50
        bad = await ops_api.post(API + "/credits/grants", json={"userId": user.id, "credits": -5}, headers=admin)
        assert bad.status_code == 422
