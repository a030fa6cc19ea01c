"""Webhooks as a customer sees them: their own signing secret, shown once and rotatable; deliveries that
only their secret verifies; none for a cancelled job; a slow receiver that cannot hold up anyone's
images; and a bounded backlog of retries, with the reason recorded for what is not sent."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from core.tasks import Task, enqueue_webhook, result_key, webhook_arq_id
from core.webhooks import generate_secret, verify
from engine.pipeline import Engine
from tests.support.api_client import API, User, balance, submit, webhook_secret
from tests.support.images import quokka, variant
from tests.support.webhook_receiver import Receiver, receiving
from tests.support.workers import worker_running

Client = AsyncTestClient[Litestar]


@pytest.fixture
def local(settings: Settings) -> Settings:
    """The run's settings with webhook targets on 127.0.0.1 allowed (the test receiver lives there)."""
    return dataclasses.replace(settings, webhook_allow_private=True)


@pytest.fixture
async def client(local: Settings, migrated_db: str, queue: ArqRedis) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(local), timeout=60) as c:
        yield c


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.1)


async def job(client: Client, user: User, job_id: str) -> dict[str, Any]:
    r = await client.get(f"{API}/jobs/{job_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def deliveries(client: Client, user: User) -> list[dict[str, Any]]:
    r = await client.get(API + "/webhooks/deliveries?limit=100", headers=user.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["deliveries"])


async def submit_ok(client: Client, user: User, settings: Settings, n: int = 0, **fields: Any) -> str:
    r = await submit(client, user, variant(settings, n, size=(200, 134)), **fields)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


# --- the secret --------------------------------------------------------------------------------------


async def test_the_secret_is_shown_once_then_only_its_fingerprint(client: Client, make_user) -> None:
    alice, bob = await make_user(0), await make_user(0)
    missing = await client.get(API + "/webhooks/secret", headers=alice.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"

    created = await client.post(API + "/webhooks/secret", headers=alice.headers)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    first = created.json()["secret"]
    assert first.startswith("whsec_")
    assert created.json()["fingerprint"] == hashlib.sha256(first.encode()).hexdigest()[:16]
    assert created.json()["rotatedAt"] is None

    shown = await client.get(API + "/webhooks/secret", headers=alice.headers)
    assert shown.status_code == 200
    assert shown.json()["fingerprint"] == created.json()["fingerprint"]
    assert "secret" not in shown.json()
    assert first not in shown.text and first.removeprefix("whsec_") not in shown.text

    rotated = await client.post(API + "/webhooks/secret", headers=alice.headers)
    second = rotated.json()["secret"]
    assert rotated.status_code == 201 and second != first
    after = (await client.get(API + "/webhooks/secret", headers=alice.headers)).json()
    assert after["fingerprint"] == hashlib.sha256(second.encode()).hexdigest()[:16]
    assert after["rotatedAt"] is not None
    # The old secret still signs for a while, so a receiver can switch without losing deliveries.
    assert after["previousFingerprint"] == created.json()["fingerprint"]
    assert first not in str(after) and second not in str(after)

    # Another user sees only that they have none.
    assert (await client.get(API + "/webhooks/secret", headers=bob.headers)).status_code == 404


async def test_a_webhook_url_is_refused_until_the_user_has_a_secret(
    client: Client, make_user, settings: Settings
) -> None:
    user = await make_user(50)
    url = "http://127.0.0.1:9/hook"
    r = await submit(client, user, quokka(settings), webhook_url=url)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "webhook_secret_missing"
    assert "/webhooks/secret" in r.json()["detail"]
    files = [("images[]", (f"{i}.jpg", variant(settings, i, size=(200, 134)), "image/jpeg")) for i in range(2)]
    r = await client.post(
        API + "/batches", files=files, data={"tier": "basic", "webhook_url": url}, headers=user.headers
    )
    assert r.status_code == 409 and r.json()["code"] == "webhook_secret_missing"
    # Nothing was recorded or charged.
    assert await balance(client, user) == 50
    assert (await client.get(API + "/jobs", headers=user.headers)).json()["jobs"] == []
    assert (await client.get(API + "/batches", headers=user.headers)).json()["batches"] == []

    await webhook_secret(client, user)
    accepted = await submit(client, user, quokka(settings), webhook_url=url)
    assert accepted.status_code == 202, accepted.text
    # Cancelled, so no later test's worker sends its webhook to a port nobody listens on.
    assert (await client.delete(accepted.headers["location"], headers=user.headers)).status_code == 200
    # Without a webhook_url nothing changes for anyone.
    assert (await submit(client, await make_user(50), quokka(settings))).status_code == 202


# --- signing -----------------------------------------------------------------------------------------


async def test_each_user_s_deliveries_verify_only_with_their_own_secret(
    client: Client, make_user, run_worker, local: Settings
) -> None:
    alice, bob = await make_user(20), await make_user(20)
    alice_secret, bob_secret = await webhook_secret(client, alice), await webhook_secret(client, bob)
    async with receiving(alice_secret) as alice_hooks, receiving(bob_secret) as bob_hooks:
        a = await submit_ok(client, alice, local, 0, webhook_url=alice_hooks.url())
        b = await submit_ok(client, bob, local, 1, webhook_url=bob_hooks.url())
        await run_worker(local)
    assert (await job(client, alice, a))["webhookStatus"] == "delivered"
    assert (await job(client, bob, b))["webhookStatus"] == "delivered"
    [to_alice], [to_bob] = alice_hooks.requests, bob_hooks.requests
    assert to_alice.signature_valid and to_bob.signature_valid
    assert json.loads(to_alice.body)["data"]["id"] == a
    # Bob's secret (all Bob has) cannot produce or check a signature Alice's receiver accepts,
    # and no shared service-wide secret signs either delivery.
    assert not verify(bob_secret, to_alice.headers, to_alice.body)
    assert not verify(alice_secret, to_bob.headers, to_bob.body)
    assert len(to_alice.headers["webhook-signature"].split()) == 1
    forged = json.dumps({"type": "job.finished", "data": {"id": a, "status": "completed"}}).encode()
    assert not verify(alice_secret, {**to_bob.headers, "webhook-id": to_alice.headers["webhook-id"]}, forged)


async def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(
    client: Client, make_user, run_worker, local: Settings, migrated_db: str
) -> None:
    user = await make_user(20)
    old = await webhook_secret(client, user)
    new = await webhook_secret(client, user)
    async with receiving(new) as receiver:
        first = await submit_ok(client, user, local, 0, webhook_url=receiver.url())
        await run_worker(local)
        conn = await asyncpg.connect(migrated_db)
        try:
            await conn.execute(
                "UPDATE webhook_signing_secret SET previous_expires_at = now() - interval '1 second' "
                "WHERE user_id = $1",
                user.id,
            )
        finally:
            await conn.close()
        second = await submit_ok(client, user, local, 1, webhook_url=receiver.url())
        await run_worker(local)
    during, after = receiver.requests
    assert json.loads(during.body)["data"]["id"] == first and json.loads(after.body)["data"]["id"] == second
    assert verify(new, during.headers, during.body) and verify(old, during.headers, during.body)
    assert verify(new, after.headers, after.body) and not verify(old, after.headers, after.body)
    assert (await client.get(API + "/webhooks/secret", headers=user.headers)).json()["previousFingerprint"] is None


@pytest.mark.parametrize("legacy_secret", ["set", "empty"])
async def test_work_accepted_before_per_user_secrets_uses_the_legacy_secret_or_is_not_sent(
    client: Client, make_user, run_worker, local: Settings, migrated_db: str, legacy_secret: str
) -> None:
    """A job with a webhook_url whose user has no secret can only predate this release."""
    legacy = generate_secret() if legacy_secret == "set" else ""
    user = await make_user(20)
    await webhook_secret(client, user)
    async with receiving(legacy or generate_secret()) as receiver:
        job_id = await submit_ok(client, user, local, 0, webhook_url=receiver.url())
        conn = await asyncpg.connect(migrated_db)
        try:
            await conn.execute("DELETE FROM webhook_signing_secret WHERE user_id = $1", user.id)
        finally:
            await conn.close()
        await run_worker(dataclasses.replace(local, webhook_secret=legacy))
    hook = await job(client, user, job_id)
    [delivery] = await deliveries(client, user)
    if legacy:
        assert hook["webhookStatus"] == "delivered"
        assert [r.signature_valid for r in receiver.requests] == [True]
    else:
        assert hook["webhookStatus"] == "failed"
        assert receiver.requests == []
        assert delivery["lastError"].startswith("webhook_secret_missing")


# --- at most once per event, wherever it was queued ---------------------------------------------------


async def test_a_delivered_event_is_not_sent_again_and_old_queue_entries_are_forwarded(
    client: Client, make_user, run_worker, local: Settings, queue: ArqRedis
) -> None:
    user = await make_user(20)
    secret = await webhook_secret(client, user)
    async with receiving(secret) as receiver:
        delivered = await submit_ok(client, user, local, 0, webhook_url=receiver.url())
        await run_worker(local)
        # A duplicate of the task (arq delivers at least once) finds the event delivered.
        await queue.delete(result_key(webhook_arq_id("job", delivered)))
        await enqueue_webhook(queue, local.queue_name, "job", delivered)
        # What a release before the webhook queue left on the main queue, under its old id.
        legacy = await submit_ok(client, user, local, 1)
        await run_worker(local)
        conn = await asyncpg.connect(local.database_url)
        try:
            await conn.execute(
                "UPDATE background_removal_job SET webhook_url = $2 WHERE id = $1", uuid.UUID(legacy), receiver.url()
            )
        finally:
            await conn.close()
        await queue.enqueue_job(
            Task.DELIVER_WEBHOOK, "job", legacy, _job_id=f"hook:job:{legacy}", _queue_name=local.queue_name
        )
        await run_worker(local)
    ids = [json.loads(r.body)["data"]["id"] for r in receiver.requests]
    assert ids == [delivered, legacy]
    assert all(r.signature_valid for r in receiver.requests)
    assert (await job(client, user, legacy))["webhookStatus"] == "delivered"


# --- cancelled jobs ----------------------------------------------------------------------------------


async def test_a_cancelled_job_sends_no_webhook(
    client: Client, make_user, run_worker, local: Settings, queue: ArqRedis, migrated_db: str
) -> None:
    user = await make_user(20)
    secret = await webhook_secret(client, user)
    async with receiving(secret) as receiver:
        job_id = await submit_ok(client, user, local, webhook_url=receiver.url())
        cancelled = await client.delete(f"{API}/jobs/{job_id}", headers=user.headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        conn = await asyncpg.connect(migrated_db)
        try:  # old enough for the sweep, which sends webhooks that were never attempted
            await conn.execute(
                "UPDATE background_removal_job SET finished_at = now() - interval '10 minutes' WHERE id = $1",
                uuid.UUID(job_id),
            )
        finally:
            await conn.close()
        # Even a delivery queued by hand (an older release, a race) sends nothing.
        await enqueue_webhook(queue, local.queue_name, "job", job_id)
        await run_worker(local)  # runs the sweep at start-up, then drains both queues
    assert receiver.requests == []
    assert (await job(client, user, job_id))["webhookStatus"] is None
    assert await deliveries(client, user) == []


# --- isolation from inference ------------------------------------------------------------------------


async def _finish_jobs(client: Client, user: User, settings: Settings, count: int, first: int) -> float:
    """Submit ``count`` images and return the seconds until all completed."""
    started = time.monotonic()
    ids = [await submit_ok(client, user, settings, first + i) for i in range(count)]

    async def all_done() -> bool:
        statuses = [(await job(client, user, i))["status"] for i in ids]
        return all(status == "completed" for status in statuses)

    await wait_for(all_done, 120, f"{count} jobs of {user.id}")
    return time.monotonic() - started


async def test_a_slow_receiver_does_not_hold_up_other_users_images(
    client: Client, make_user, local: Settings, engine: Engine
) -> None:
    """Before the webhook queue, two slow deliveries took both of a worker's job slots for their whole
    timeout, and every user's images waited behind them."""
    timeout_s = 30.0
    settings = dataclasses.replace(local, webhook_concurrency=2, webhook_timeout_s=timeout_s)
    slow_user, other = await make_user(100), await make_user(100)
    secret = await webhook_secret(client, slow_user)
    receiver: Receiver
    async with receiving(secret, delay_s=timeout_s + 10) as receiver, worker_running(settings, engine):
        baseline = await _finish_jobs(client, other, settings, 3, 0)

        slow_jobs = [await submit_ok(client, slow_user, settings, 10 + i, webhook_url=receiver.url()) for i in range(2)]

        async def both_slots_held() -> bool:
            return len(receiver.requests) >= 2

        await wait_for(both_slots_held, 60, "the slow receiver to hold both webhook slots")
        held_since = time.monotonic()
        during = await _finish_jobs(client, other, settings, 3, 20)
        # Still inside the first attempts' timeout: the slow deliveries were open the whole time.
        assert time.monotonic() - held_since < timeout_s
        webhook_states = [(await job(client, slow_user, i))["webhookStatus"] for i in slow_jobs]
        assert webhook_states == [None, None]  # no attempt has finished yet
    # Generous: the machine is shared; the old design took the whole webhook timeout (30 s) here.
    assert during < 3 * baseline + 10, f"{during:.1f} s with a slow receiver vs {baseline:.1f} s without"


# --- a bounded backlog -------------------------------------------------------------------------------


async def _retrying_now(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM webhook_delivery WHERE status = 'retrying'"))
    finally:
        await conn.close()


@pytest.mark.parametrize("cap", ["per_user", "total"])
async def test_past_the_backlog_cap_new_deliveries_fail_at_once_with_a_reason(
    client: Client, make_user, local: Settings, engine: Engine, migrated_db: str, cap: str
) -> None:
    # One delivery at a time, so the first has failed (and waits for its retry) before the next starts;
    # and no sweep sending earlier tests' never-attempted webhooks into the backlog meanwhile.
    settings = dataclasses.replace(local, webhook_concurrency=1, requeue_after_s=3600)
    if cap == "per_user":
        settings = dataclasses.replace(settings, webhook_max_pending_per_user=1)
    else:  # the total counts every user of this run's database: leave room for exactly one more
        settings = dataclasses.replace(settings, webhook_max_pending=await _retrying_now(migrated_db) + 1)
    failing, bystander = await make_user(100), await make_user(100)
    failing_secret, bystander_secret = await webhook_secret(client, failing), await webhook_secret(client, bystander)
    async with (
        receiving(failing_secret, status=503) as broken,
        receiving(bystander_secret) as healthy,
        worker_running(settings, engine),
    ):
        ids = [await submit_ok(client, failing, settings, i, webhook_url=broken.url()) for i in range(3)]

        async def all_recorded() -> bool:
            return len(await deliveries(client, failing)) == 3

        await wait_for(all_recorded, 120, "three deliveries recorded")
        other = await submit_ok(client, bystander, settings, 9, webhook_url=healthy.url())

        async def bystander_recorded() -> bool:
            return bool(await deliveries(client, bystander))

        await wait_for(bystander_recorded, 60, "the other user's delivery")
        statuses = {i: (await job(client, failing, i))["webhookStatus"] for i in ids}
        log = {d["objectId"]: d for d in await deliveries(client, failing)}
        [other_delivery] = await deliveries(client, bystander)

    # The first to finish is retrying (503); the later ones were dropped without a request.
    [kept] = [i for i in ids if statuses[i] == "retrying"]
    assert sorted(statuses.values()) == ["failed", "failed", "retrying"]
    assert {r.headers["webhook-id"] for r in broken.requests} == {f"msg_job_{kept}"}
    assert (log[kept]["status"], log[kept]["lastStatusCode"]) == ("retrying", 503)
    for dropped in set(ids) - {kept}:
        assert (log[dropped]["status"], log[dropped]["attempts"]) == ("failed", 0)
        assert log[dropped]["lastError"].startswith("not sent:")
        assert "waiting for a retry" in log[dropped]["lastError"]
    if cap == "per_user":
        # Another user's receiver is not affected by this user's backlog.
        assert other_delivery["status"] == "delivered" and len(healthy.requests) == 1
        assert (await job(client, bystander, other))["webhookStatus"] == "delivered"
    else:
        assert other_delivery["status"] == "failed" and healthy.requests == []
        assert "across the service" in other_delivery["lastError"]
