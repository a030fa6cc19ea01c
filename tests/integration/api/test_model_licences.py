"""``ALLOWED_MODEL_LICENCES``: a deployment that keeps copyleft weights out says which tiers that costs,
and why, before anyone pays for them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.api_client import API, balance, submit
from tests.support.images import variant


@pytest.fixture
async def permissive_api(settings: Settings, migrated_db: str, queue: ArqRedis) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    only_permissive = dataclasses.replace(settings, allowed_model_licences_raw="Apache-2.0, MIT")
    async with AsyncTestClient(app=create_app(only_permissive), timeout=60) as client:
        yield client


async def test_pricing_names_the_tiers_a_licence_policy_rules_out_and_why(permissive_api, make_user) -> None:
    user = await make_user(100)
    r = await permissive_api.get(API + "/pricing", headers=user.headers)
    assert r.status_code == 200, r.text
    tiers = {t["tier"]: t for t in r.json()["tiers"]}
    assert tiers["basic"]["available"] and tiers["standard"]["available"]
    for name, licence in (("professional", "AGPL-3.0"), ("industry", "AGPL-3.0")):
        assert tiers[name]["available"] is False
        assert (
            licence in tiers[name]["unavailableReason"] and "ALLOWED_MODEL_LICENCES" in tiers[name]["unavailableReason"]
        )
    assert "GPL-3.0" in tiers["industry"]["unavailableReason"]  # its portrait matting model


async def test_a_job_for_a_ruled_out_tier_is_refused_and_costs_nothing(
    permissive_api, make_user, settings: Settings
) -> None:
    user = await make_user(100)
    r = await submit(permissive_api, user, variant(settings, 0, size=(64, 48)), tier="professional")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["code"] == "tier_unavailable"
    assert "AGPL-3.0" in body["detail"]
    assert await balance(permissive_api, user) == 100
    ok = await submit(permissive_api, user, variant(settings, 1, size=(64, 48)), tier="basic")
    assert ok.status_code == 202, ok.text


async def test_readiness_reports_the_ruled_out_tiers(permissive_api) -> None:
    r = await permissive_api.get(API + "/health/ready")
    models = r.json()["checks"]["models"]
    assert models["ok"] is True  # basic and standard can still serve
    assert "professional" in models["detail"] and "AGPL-3.0" in models["detail"]
    assert r.json()["tiers"]["industry"] is False
