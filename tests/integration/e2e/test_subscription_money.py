"""Subscriptions cost their price: subscribing and renewing charge credits once, an admin grant records
an external payment once, and nothing is covered that was not paid for."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits
from tests.support.api_client import API, User, balance, submit
from tests.support.images import variant
from tests.support.tokens import auth, token

Client = AsyncTestClient[Litestar]

STARTER, PRO = 990, 2990
"""Credits a period costs: Rp 99,000 and Rp 299,000 at Rp 100 a credit."""
ADMIN = "ops-billing"


def _expiry(body: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(body["subscription"]["expiresAt"].replace("Z", "+00:00"))


async def _subscribe(api: Client, user: User, plan: str, key: str | None = None) -> Any:
    headers = {**user.headers, **({"Idempotency-Key": key} if key else {})}
    return await api.post(API + "/subscription", json={"plan": plan}, headers=headers)


async def _renew(api: Client, user: User, key: str | None = None) -> Any:
    headers = {**user.headers, **({"Idempotency-Key": key} if key else {})}
    return await api.post(API + "/subscription/renew", headers=headers)


async def _ledger(dsn: str, user_id: str) -> list[tuple[str, int]]:
    """The user's ledger rows other than the test's starting grant, oldest first."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT kind, amount FROM credit_ledger WHERE user_id = $1 AND entry_key NOT LIKE 'test-grant:%' "
            "ORDER BY created_at, kind",
            user_id,
        )
    finally:
        await conn.close()
    return [(r["kind"], r["amount"]) for r in rows]


async def _subscription_rows(dsn: str, user_id: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM background_remover_subscription WHERE user_id = $1", user_id)
        )
    finally:
        await conn.close()


@pytest.fixture
async def admin_api(settings: Settings, migrated_db: str, queue: Any) -> AsyncIterator[Client]:
    """The API with ``ADMIN_USERS`` naming :data:`ADMIN` (an admin however strict the check is)."""
    admin_settings = dataclasses.replace(settings, admin_users=ADMIN)
    async with AsyncTestClient(app=create_app(admin_settings), timeout=60) as client:
        yield client


def _admin_headers(settings: Settings) -> dict[str, str]:
    return auth(token(settings, ADMIN, scope="admin"))


# ----------------------------------------------------------------------------- subscribing


async def test_without_credits_there_is_no_subscription_and_no_free_industry_job(
    api: Client, make_user: Any, settings: Settings, migrated_db: str
) -> None:
    broke = await make_user(0)
    r = await _subscribe(api, broke, "pro")
    assert r.status_code == 402, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "insufficient_credits"
    assert (r.json()["required"], r.json()["balance"]) == (PRO, 0)
    assert (await api.get(API + "/subscription", headers=broke.headers)).json() == {"subscription": None}
    assert await _subscription_rows(migrated_db, broke.id) == 0
    assert await balance(api, broke) == 0
    job = await submit(api, broke, variant(settings, 41), tier="industry")
    assert job.status_code == 402, job.text
    assert job.json()["code"] == "insufficient_credits"

    one_short = await make_user(PRO - 1)
    r = await _subscribe(api, one_short, "pro")
    assert r.status_code == 402
    assert await balance(api, one_short) == PRO - 1
    assert await _subscription_rows(migrated_db, one_short.id) == 0
    assert await _ledger(migrated_db, one_short.id) == []


async def test_subscribing_charges_the_price_once_and_then_covers_jobs(
    api: Client, make_user: Any, settings: Settings, migrated_db: str
) -> None:
    user = await make_user(PRO + 25)
    r = await _subscribe(api, user, "pro")
    assert r.status_code == 201, r.text
    assert r.json()["subscription"]["plan"] == "pro"
    assert await balance(api, user) == 25
    assert await _ledger(migrated_db, user.id) == [("charge", -PRO)]
    job = (await submit(api, user, variant(settings, 42), tier="industry")).json()
    assert job["coveredBySubscription"] is True
    assert job["creditsCharged"] == 0
    assert await balance(api, user) == 25
    stats = (await api.get(API + "/stats", headers=user.headers)).json()["stats"]
    assert stats["creditsUsed"] == PRO


async def test_concurrent_subscribe_requests_charge_once(api: Client, make_user: Any, migrated_db: str) -> None:
    user = await make_user(5 * PRO)
    answers = await asyncio.gather(*[_subscribe(api, user, "pro") for _ in range(5)])
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"already_subscribed"}
    assert await balance(api, user) == 4 * PRO
    assert await _ledger(migrated_db, user.id) == [("charge", -PRO)]


async def test_a_replayed_idempotency_key_charges_once(api: Client, make_user: Any, migrated_db: str) -> None:
    user = await make_user(3 * STARTER)
    first, *rest = await asyncio.gather(*[_subscribe(api, user, "starter", key="click-1") for _ in range(3)])
    later = await _subscribe(api, user, "starter", key="click-1")
    for again in [*rest, later]:
        # a concurrent duplicate may be told the first is still running; it is never charged
        if again.status_code == 409:
            assert again.json()["code"] == "idempotency_in_progress"
            continue
        assert again.status_code == 201, again.text
        assert again.json() == first.json()
    assert later.status_code == 201 and later.headers["idempotent-replayed"] == "true"
    assert first.status_code == 201
    other = await _subscribe(api, user, "pro", key="click-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert await balance(api, user) == 2 * STARTER
    assert await _ledger(migrated_db, user.id) == [("charge", -STARTER)]


async def test_a_refused_subscription_keeps_no_idempotency_answer(api: Client, make_user: Any) -> None:
    """A 402 is not stored under the key: once the user has credits, the same key subscribes."""
    user = await make_user(STARTER - 1)
    assert (await _subscribe(api, user, "starter", key="retry-me")).status_code == 402
    await credits.grant(user.id, 1, reason="top-up", entry_key=f"top-up:{user.id}")
    r = await _subscribe(api, user, "starter", key="retry-me")
    assert r.status_code == 201, r.text
    assert await balance(api, user) == 0


# ----------------------------------------------------------------------------- renewing


async def test_renewal_extends_by_one_period_from_the_expiry_and_charges_once(
    api: Client, make_user: Any, migrated_db: str
) -> None:
    user = await make_user(3 * STARTER)
    expiry = _expiry((await _subscribe(api, user, "starter")).json())
    renewed = await _renew(api, user, key="renew-june")
    assert renewed.status_code == 200, renewed.text
    assert _expiry(renewed.json()) == expiry + dt.timedelta(days=30)
    assert renewed.json()["subscription"]["active"] is True
    replay = await _renew(api, user, key="renew-june")
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == renewed.json()
    now = (await api.get(API + "/subscription", headers=user.headers)).json()
    assert _expiry(now) == expiry + dt.timedelta(days=30)
    assert await balance(api, user) == STARTER
    assert await _ledger(migrated_db, user.id) == [("charge", -STARTER), ("charge", -STARTER)]


async def test_renewal_without_credits_is_402_and_changes_nothing(api: Client, make_user: Any) -> None:
    user = await make_user(STARTER + 5)
    expiry = _expiry((await _subscribe(api, user, "starter")).json())
    r = await _renew(api, user)
    assert r.status_code == 402, r.text
    assert r.json()["code"] == "insufficient_credits"
    assert _expiry((await api.get(API + "/subscription", headers=user.headers)).json()) == expiry
    assert await balance(api, user) == 5


async def test_renewing_a_lapsed_subscription_starts_a_period_now(
    api: Client, make_user: Any, settings: Settings, migrated_db: str
) -> None:
    user = await make_user(2 * STARTER + 3)
    await _subscribe(api, user, "starter")
    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute(
            "UPDATE background_remover_subscription SET expires_at = now() - interval '3 days' WHERE user_id = $1",
            user.id,
        )
    finally:
        await conn.close()
    assert (await submit(api, user, variant(settings, 43))).json()["coveredBySubscription"] is False
    before = dt.datetime.now(dt.UTC)
    r = await _renew(api, user)
    assert r.status_code == 200, r.text
    expiry = _expiry(r.json())
    assert before + dt.timedelta(days=30, seconds=-5) < expiry < before + dt.timedelta(days=30, seconds=5)
    assert (await submit(api, user, variant(settings, 44))).json()["coveredBySubscription"] is True
    assert await balance(api, user) == 0  # two periods and the basic image the lapsed one did not cover


async def test_there_is_nothing_to_renew_without_a_subscription(api: Client, make_user: Any) -> None:
    user = await make_user(STARTER)
    r = await _renew(api, user)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "conflict"
    assert await balance(api, user) == STARTER


# ----------------------------------------------------------------------------- admin grants


async def test_an_admin_grant_records_the_payment_once(
    admin_api: Client, make_user: Any, settings: Settings, migrated_db: str
) -> None:
    user = await make_user(0)
    body = {"userId": user.id, "plan": "pro", "paymentId": f"midtrans-{user.id}"}
    denied = await admin_api.post(API + "/subscriptions/grants", json=body, headers=user.headers)
    assert denied.status_code == 403, denied.text
    assert denied.headers["content-type"].startswith("application/problem+json")
    assert await _subscription_rows(migrated_db, user.id) == 0

    first = await admin_api.post(API + "/subscriptions/grants", json=body, headers=_admin_headers(settings))
    assert first.status_code == 201, first.text
    assert first.json()["granted"] is True
    sub = first.json()["subscription"]
    assert (sub["plan"], sub["active"], sub["paymentId"]) == ("pro", True, body["paymentId"])
    again = await admin_api.post(API + "/subscriptions/grants", json=body, headers=_admin_headers(settings))
    assert again.status_code == 201, again.text
    assert again.json()["granted"] is False
    assert _expiry(again.json()) == _expiry(first.json())

    # the user paid outside: their balance is untouched, and the subscription covers an industry job
    assert await balance(admin_api, user) == 0
    job = (await submit(admin_api, user, variant(settings, 45), tier="industry")).json()
    assert job["coveredBySubscription"] is True

    # the same payment cannot buy another user a subscription
    other = await make_user(0)
    stolen = await admin_api.post(
        API + "/subscriptions/grants", json={**body, "userId": other.id}, headers=_admin_headers(settings)
    )
    assert stolen.status_code == 409, stolen.text
    assert await _subscription_rows(migrated_db, other.id) == 0

    # a new payment for the same plan extends the period
    second = {**body, "paymentId": f"midtrans-{user.id}-2"}
    extended = await admin_api.post(API + "/subscriptions/grants", json=second, headers=_admin_headers(settings))
    assert extended.status_code == 201, extended.text
    assert _expiry(extended.json()) == _expiry(first.json()) + dt.timedelta(days=30)
    assert extended.json()["subscription"]["paymentId"] == second["paymentId"]
    assert await balance(admin_api, user) == 0


async def test_concurrent_grants_of_one_payment_apply_once(
    admin_api: Client, make_user: Any, settings: Settings
) -> None:
    user = await make_user(0)
    body = {"userId": user.id, "plan": "starter", "paymentId": f"xendit-{user.id}"}
    answers = await asyncio.gather(
        *[admin_api.post(API + "/subscriptions/grants", json=body, headers=_admin_headers(settings)) for _ in range(4)]
    )
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert sorted(a.json()["granted"] for a in answers) == [False, False, False, True]
    assert len({_expiry(a.json()) for a in answers}) == 1


async def test_a_grant_is_validated_before_anything_is_stored(
    admin_api: Client, make_user: Any, settings: Settings, migrated_db: str
) -> None:
    user = await make_user(0)
    for bad, code in (
        ({"userId": user.id, "plan": "gold", "paymentId": "p-1"}, "invalid_options"),
        ({"userId": user.id, "plan": "pro", "paymentId": ""}, "invalid_options"),
        ({"userId": user.id, "plan": "pro", "paymentId": "x" * 300}, "invalid_options"),
        ({"userId": "", "plan": "pro", "paymentId": "p-2"}, "invalid_options"),
    ):
        r = await admin_api.post(API + "/subscriptions/grants", json=bad, headers=_admin_headers(settings))
        assert r.status_code == 422, r.text
        assert r.json()["code"] == code
    assert await _subscription_rows(migrated_db, user.id) == 0


async def test_a_payment_id_is_opaque_data(admin_api: Client, make_user: Any, settings: Settings) -> None:
    user = await make_user(0)
    body = {"userId": user.id, "plan": "starter", "paymentId": f"' OR 1=1 -- {user.id}"}
    first = await admin_api.post(API + "/subscriptions/grants", json=body, headers=_admin_headers(settings))
    again = await admin_api.post(API + "/subscriptions/grants", json=body, headers=_admin_headers(settings))
    assert (first.json()["granted"], again.json()["granted"]) == (True, False)
    assert again.json()["subscription"]["paymentId"] == body["paymentId"]


async def test_a_subscription_and_a_job_never_spend_the_same_credits(
    api: Client, make_user: Any, settings: Settings
) -> None:
    """990 credits: subscribing and a 3-credit job race; whichever wins, nothing is spent twice."""
    user = await make_user(STARTER)
    sub, job = await asyncio.gather(_subscribe(api, user, "starter"), submit(api, user, variant(settings, 46)))
    assert job.status_code == 202, job.text
    if sub.status_code == 201:  # subscribed first: the job is covered
        assert job.json()["coveredBySubscription"] is True
        assert await balance(api, user) == 0
    else:  # the job took 3 credits first: the plan is no longer affordable
        assert sub.status_code == 402, sub.text
        assert job.json()["creditsCharged"] == 3
        assert await balance(api, user) == STARTER - 3


async def test_a_period_already_charged_is_never_handed_out_for_nothing(
    api: Client, make_user: Any, migrated_db: str
) -> None:
    """Defence in depth: if the next period's keyed charge exists already, the renewal is refused."""
    user = await make_user(3 * STARTER)
    await _subscribe(api, user, "starter")
    conn = await asyncpg.connect(migrated_db)
    try:
        row = await conn.fetchrow(
            "SELECT id, expires_at FROM background_remover_subscription WHERE user_id = $1", user.id
        )
        await conn.execute(
            "INSERT INTO credit_ledger (id, user_id, amount, kind, entry_key, reason, created_at) "
            "VALUES (gen_random_uuid(), $1, -1, 'charge', $2, 'planted', now())",
            user.id,
            f"charge:subscription:{row['id']}:{row['expires_at'].isoformat()}",
        )
    finally:
        await conn.close()
    r = await _renew(api, user)
    assert r.status_code == 409, r.text
    now = (await api.get(API + "/subscription", headers=user.headers)).json()
    assert _expiry(now) == row["expires_at"]
    assert await balance(api, user) == 2 * STARTER - 1
