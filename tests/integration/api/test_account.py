"""The three endpoints of the seed report, plus the balance, against a real migrated database."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient

from core.settings import Settings
from db import credits
from tests.support.tokens import auth, token

API = "/api/background-remover"


def _new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def test_subscription_is_null_for_a_new_user(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    r = await client.get(API + "/subscription", headers=auth(token(settings, _new_user())))
    assert r.status_code == 200
    assert r.json() == {"subscription": None}


async def test_jobs_is_an_empty_page_for_a_new_user(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    r = await client.get(API + "/jobs", headers=auth(token(settings, _new_user())))
    assert r.status_code == 200
    assert r.json() == {"jobs": [], "nextCursor": None, "limit": 20}


async def test_stats_for_a_new_user(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    r = await client.get(API + "/stats", headers=auth(token(settings, _new_user())))
    assert r.status_code == 200
    stats = r.json()["stats"]
    assert stats["totalSingleRemovals"] == 0
    assert stats["totalBatches"] == 0
    assert stats["hasSubscription"] is False
    assert stats["plan"] is None
    assert stats["creditsUsed"] == 0


async def test_balance_is_the_sum_of_the_ledger(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    user = _new_user()
    headers = auth(token(settings, user))
    assert (await client.get(API + "/credits/balance", headers=headers)).json() == {"balance": 0, "userId": user}
    assert await credits.grant(user, 100, reason="welcome", entry_key=f"test:{user}:1")
    assert await credits.grant(user, 25, reason="promo", entry_key=f"test:{user}:2")
    # The same grant twice is one grant: ledger entries are keyed.
    assert not await credits.grant(user, 25, reason="promo", entry_key=f"test:{user}:2")
    assert (await client.get(API + "/credits/balance", headers=headers)).json()["balance"] == 125
    other = await client.get(API + "/credits/balance", headers=auth(token(settings, _new_user())))
    assert other.json()["balance"] == 0


async def test_bad_query_parameters_get_400_problem_json(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    headers = auth(token(settings, _new_user()))
    r = await client.get(API + "/jobs?limit=0", headers=headers)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "validation_error"
    r = await client.get(API + "/jobs?cursor=%27%3B%20DROP%20TABLE%20x", headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_options"


async def test_unknown_route_is_404_problem_json(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    r = await client.get(API + "/nope", headers=auth(token(settings)))
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert r.headers["x-request-id"] == r.json()["requestId"]
