"""The queue's guarantees: webhooks arrive signed, lost jobs are re-enqueued, a re-run charges nothing."""

from __future__ import annotations

import dataclasses
import json
import uuid

import asyncpg
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from core.tasks import in_progress_key, job_arq_id, result_key, webhook_arq_id
from tests.support.api_client import API, balance, submit, webhook_secret
from tests.support.images import quokka, variant
from tests.support.webhook_receiver import receiving
from worker.sweeps import arq_lock_s, take_over


async def test_webhook_is_delivered_signed_when_a_job_finishes(
    settings: Settings, make_user, run_worker, queue: ArqRedis
) -> None:
    local = dataclasses.replace(settings, webhook_allow_private=True)
    user = await make_user(20)
    async with AsyncTestClient(app=create_app(local)) as client:
        secret = await webhook_secret(client, user)
        async with receiving(secret) as receiver:
            r = await submit(client, user, quokka(settings), webhook_url=receiver.url())
            assert r.status_code == 202, r.text
            await run_worker(local)
        job = (await client.get(r.headers["location"], headers=user.headers)).json()
    assert job["status"] == "completed"
    assert job["webhookStatus"] == "delivered"
    assert len(receiver.requests) == 1
    delivery = receiver.requests[0]
    assert delivery.signature_valid
    assert delivery.headers["webhook-id"]
    event = json.loads(delivery.body)
    assert event["type"] == "job.finished"
    assert event["data"]["id"] == job["id"]
    assert event["data"]["status"] == "completed"


async def test_webhook_for_a_batch_and_retry_after_a_failing_receiver(
    settings: Settings, make_user, run_worker, queue: ArqRedis
) -> None:
    local = dataclasses.replace(settings, webhook_allow_private=True)
    user = await make_user(20)
    files = [("images[]", (f"{i}.jpg", variant(settings, i, size=(200, 134)), "image/jpeg")) for i in range(2)]
    async with AsyncTestClient(app=create_app(local)) as c:
        secret = await webhook_secret(c, user)
        async with receiving(secret, script=[503]) as receiver:
            r = await c.post(
                API + "/batches",
                files=files,
                data={"tier": "basic", "webhook_url": receiver.url()},
                headers=user.headers,
            )
            assert r.status_code == 202, r.text
            # The receiver answers 503 first: the delivery is retried after the first backoff (5 s),
            # which the burst worker waits for.
            await run_worker(local)
        batch = (await c.get(r.headers["location"], headers=user.headers)).json()
    assert batch["status"] == "completed"
    assert len(receiver.requests) == 2
    event = json.loads(receiver.requests[1].body)
    assert event["type"] == "batch.finished"
    assert event["data"]["status"] == "completed"
    assert len(event["data"]["images"]) == 2


async def test_a_job_lost_by_redis_is_enqueued_again_by_the_sweep(
    api, make_user, run_worker, settings: Settings, queue: ArqRedis, migrated_db: str
) -> None:
    user = await make_user(20)
    r = await submit(api, user, quokka(settings))
    job_id = r.json()["id"]
    await queue.flushdb()  # Redis restarted with nothing on disk
    conn = await asyncpg.connect(migrated_db)
    try:
        # the sweep only touches jobs older than REQUEUE_AFTER_S
        await conn.execute(
            "UPDATE background_removal_job SET created_at = now() - interval '10 minutes' WHERE id = $1",
            uuid.UUID(job_id),
        )
    finally:
        await conn.close()
    await run_worker()  # runs the sweep at start-up, which enqueues the job, then processes it
    assert (await api.get(r.headers["location"], headers=user.headers)).json()["status"] == "completed"
    assert await balance(api, user) == 17


async def test_a_duplicate_delivery_of_a_finished_job_changes_nothing(
    api, make_user, run_worker, settings: Settings, queue: ArqRedis
) -> None:
    user = await make_user(20)
    r = await submit(api, user, quokka(settings))
    job_id = r.json()["id"]
    await run_worker()
    first = (await api.get(r.headers["location"], headers=user.headers)).json()
    await queue.delete(f"arq:result:{job_arq_id(job_id)}")
    await queue.enqueue_job("process_job", job_id, _job_id=job_arq_id(job_id), _queue_name=settings.queue_name)
    await run_worker()
    second = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert second["status"] == "completed"
    assert second["attempts"] == first["attempts"] == 1
    assert second["finishedAt"] == first["finishedAt"]
    assert await balance(api, user) == 17


async def test_a_job_whose_worker_died_mid_way_is_taken_over(
    api, make_user, run_worker, settings: Settings, migrated_db: str
) -> None:
    """The row says processing (its worker was killed); arq delivers the job again; it completes once."""
    user = await make_user(20)
    r = await submit(api, user, quokka(settings))
    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute(
            "UPDATE background_removal_job SET status = 'processing', attempts = 1, started_at = now() WHERE id = $1",
            uuid.UUID(r.json()["id"]),
        )
    finally:
        await conn.close()
    await run_worker()
    job = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert job["status"] == "completed"
    assert job["attempts"] == 2
    assert await balance(api, user) == 17


async def test_a_job_whose_worker_stopped_beating_is_taken_over_by_the_sweep(
    api, make_user, run_worker, settings: Settings, queue: ArqRedis, migrated_db: str
) -> None:
    """arq would keep the job locked for job_timeout + 10 s; the sweep releases it once the heartbeat is gone."""
    user = await make_user(20)
    r = await submit(api, user, quokka(settings))
    job_id = r.json()["id"]
    await queue.set(f"arq:in-progress:{job_arq_id(job_id)}", b"1", ex=3600)  # the dead worker's lock
    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute(
            "UPDATE background_removal_job SET status = 'processing', attempts = 1, worker_id = 'gone:1:x', "
            "updated_at = now() - interval '5 minutes' WHERE id = $1",
            uuid.UUID(job_id),
        )
    finally:
        await conn.close()
    await run_worker()
    job = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert job["status"] == "completed"
    assert job["attempts"] == 2
    assert await balance(api, user) == 17


async def test_a_dead_workers_job_is_released_once_not_again_when_a_live_worker_has_just_taken_it(
    settings: Settings, queue: ArqRedis
) -> None:
    """Two sweeps at once (a restarted worker's at start-up and a scheduled one) both saw the same orphan:
    the second released the lock of the worker that had just taken the job, which then ran twice and
    counted two attempts for one crash."""
    job_id = str(uuid.uuid4())
    arq_id = job_arq_id(job_id)
    lock = in_progress_key(arq_id)
    await queue.zadd(settings.queue_name, {arq_id: 0})
    try:
        # the dead worker's lock, taken well before the grace: released for another worker
        await queue.set(lock, b"1", px=(arq_lock_s(settings) - settings.requeue_after_s - 5) * 1000)
        assert await take_over(queue, settings, job_id)
        assert not await queue.exists(lock)
        # a live worker takes it at once; the other sweep, still holding the old orphan, leaves it alone
        await queue.set(lock, b"1", px=arq_lock_s(settings) * 1000)
        assert not await take_over(queue, settings, job_id)
        assert await queue.exists(lock)
    finally:
        await queue.delete(lock)
        await queue.zrem(settings.queue_name, arq_id)


async def test_a_job_that_killed_its_worker_every_time_is_failed_and_refunded(
    api, make_user, run_worker, settings: Settings, queue: ArqRedis, migrated_db: str
) -> None:
    user = await make_user(20)
    r = await submit(api, user, quokka(settings))
    await queue.flushdb()
    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute(
            "UPDATE background_removal_job SET status = 'processing', attempts = 3, "
            "updated_at = now() - interval '1 day' WHERE id = $1",
            uuid.UUID(r.json()["id"]),
        )
    finally:
        await conn.close()
    await run_worker()
    job = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert job["status"] == "failed"
    assert job["errorCode"] == "processing_failed"
    assert await balance(api, user) == 20


async def test_retention_sweep_deletes_old_results_and_expires_subscriptions(
    api, make_user, run_worker, settings: Settings, migrated_db: str
) -> None:
    from core.storage import LocalStorage
    from worker.sweeps import run_retention

    user = await make_user(990 + 20)
    subscribed = await api.post(API + "/subscription", json={"plan": "starter"}, headers=user.headers)
    assert subscribed.status_code == 201, subscribed.text
    r = await submit(api, user, quokka(settings), tier="professional")
    await run_worker()
    job = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert job["status"] == "completed"
    assert (await api.get(job["links"]["result"], headers=user.headers)).status_code == 200
    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute(
            "UPDATE background_removal_job SET finished_at = now() - make_interval(days => $2) WHERE id = $1",
            uuid.UUID(job["id"]),
            settings.result_retention_days + 1,
        )
        await conn.execute(
            "UPDATE background_remover_subscription SET expires_at = now() - interval '1 minute' WHERE user_id = $1",
            user.id,
        )
        output_key = await conn.fetchval(
            "SELECT output_key FROM background_removal_job WHERE id = $1", uuid.UUID(job["id"])
        )
    finally:
        await conn.close()
    storage = LocalStorage(settings.storage_dir)
    assert await storage.exists(output_key)
    done = await run_retention(settings, storage)
    assert done["files"] >= 1
    assert done["subscriptions"] >= 1
    assert not await storage.exists(output_key)
    gone = await api.get(job["links"]["result"], headers=user.headers)
    assert gone.status_code == 410
    assert gone.json()["code"] == "result_expired"
    assert gone.headers["content-type"].startswith("application/problem+json")
    sub = (await api.get(API + "/subscription", headers=user.headers)).json()["subscription"]
    assert sub["status"] == "expired"
    assert sub["active"] is False


async def test_a_webhook_never_attempted_is_sent_by_the_sweep(
    settings: Settings, make_user, run_worker, queue: ArqRedis, migrated_db: str
) -> None:
    """The follow-up enqueue after a job's final state can be lost (Redis down at that moment)."""
    local = dataclasses.replace(settings, webhook_allow_private=True)
    user = await make_user(20)
    async with AsyncTestClient(app=create_app(local)) as client:
        secret = await webhook_secret(client, user)
        async with receiving(secret) as receiver:
            r = await submit(client, user, quokka(settings), webhook_url=receiver.url())
            job_id = r.json()["id"]
            await run_worker(local)
            assert len(receiver.requests) == 1
            conn = await asyncpg.connect(migrated_db)
            try:  # as if the delivery had never been enqueued
                await conn.execute(
                    "UPDATE background_removal_job SET webhook_status = NULL, "
                    "finished_at = now() - interval '10 minutes' WHERE id = $1",
                    uuid.UUID(job_id),
                )
                await conn.execute("DELETE FROM webhook_delivery WHERE object_id = $1", uuid.UUID(job_id))
            finally:
                await conn.close()
            await queue.delete(result_key(webhook_arq_id("job", job_id)))
            await run_worker(local)
        job = (await client.get(r.headers["location"], headers=user.headers)).json()
    assert len(receiver.requests) == 2
    assert receiver.requests[1].signature_valid
    assert job["webhookStatus"] == "delivered"
