"""Client-visible latency and fair scheduling: long polls wake when the worker finishes, and one user's
big batch does not hold up another user's single job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from arq.jobs import Job

from core.fair_order import FairImage, Lane, enqueue_fairly, fair_scores
from core.settings import Settings
from core.tasks import QUEUED_FOR, Task, in_progress_key, job_arq_id
from tests.support.api_client import API, submit
from tests.support.images import quokka, variant


@pytest.fixture
async def http(base_url: str, queue: ArqRedis) -> AsyncIterator[httpx.AsyncClient]:
    """The real API server: a long poll in the in-process test client would hold the test's event loop,
    and with it the worker running there."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        yield client


async def test_a_long_poll_answers_with_the_finished_job_in_one_request(
    http, make_user, running_worker, settings: Settings
) -> None:
    user = await make_user(20)
    r = await submit(http, user, variant(settings, 1, size=(200, 134)))
    assert r.status_code == 202, r.text
    waited = await http.get(r.headers["location"], params={"wait": 30}, headers=user.headers)
    assert waited.status_code == 200
    assert waited.json()["status"] == "completed"
    assert "retry-after" not in waited.headers
    result = await http.get(waited.json()["links"]["result"], headers=user.headers)
    assert result.status_code == 200


async def test_a_long_poll_that_runs_out_answers_the_current_state(http, make_user, settings: Settings) -> None:
    user = await make_user(20)
    r = await submit(http, user, quokka(settings))  # no worker runs
    waited = await http.get(r.headers["location"], params={"wait": 0.3}, headers=user.headers)
    assert waited.status_code == 200
    assert waited.json()["status"] == "pending"
    assert waited.headers["retry-after"] == "0"  # ask again at once: the next long poll loses nothing


async def test_a_cancel_wakes_a_long_poll_of_the_same_job(http, make_user, settings: Settings) -> None:
    user = await make_user(20)
    r = await submit(http, user, quokka(settings))
    poll = asyncio.create_task(http.get(r.headers["location"], params={"wait": 30}, headers=user.headers))
    await asyncio.sleep(0.2)
    cancelled = await http.delete(r.headers["location"], headers=user.headers)
    assert cancelled.status_code == 200
    waited = await asyncio.wait_for(poll, timeout=10)
    assert waited.json()["status"] == "cancelled"


async def test_a_bad_wait_is_a_validation_problem(api, make_user, settings: Settings) -> None:
    user = await make_user(20)
    r = await submit(api, user, quokka(settings))
    for bad in ("31", "-1", "soon"):
        answer = await api.get(r.headers["location"], params={"wait": bad}, headers=user.headers)
        assert answer.status_code == 400, bad
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "validation_error"
    other = await make_user(20)
    hidden = await api.get(r.headers["location"], params={"wait": 1}, headers=other.headers)
    assert hidden.status_code == 404  # another user's job is not found, waited for or not


async def test_a_batch_long_poll_answers_when_the_batch_is_final(
    http, make_user, running_worker, settings: Settings
) -> None:
    user = await make_user(50)
    files = [("images[]", (f"{i}.jpg", variant(settings, i, size=(200, 134)), "image/jpeg")) for i in range(3)]
    r = await http.post(API + "/batches", files=files, data={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 202, r.text
    waited = await http.get(r.headers["location"], params={"wait": 30}, headers=user.headers)
    assert waited.status_code == 200
    assert waited.json()["status"] == "completed"
    assert waited.json()["links"]["download"]


async def test_another_users_single_job_is_not_queued_behind_a_big_batch(
    api, make_user, run_worker, settings: Settings, migrated_db: str
) -> None:
    images = 12
    batch_user, single_user = await make_user(200), await make_user(20)
    files = [("images[]", (f"{i}.jpg", variant(settings, i, size=(200, 134)), "image/jpeg")) for i in range(images)]
    batch = await api.post(API + "/batches", files=files, data={"tier": "basic"}, headers=batch_user.headers)
    assert batch.status_code == 202, batch.text
    single = await submit(api, single_user, quokka(settings))  # after the whole batch was queued
    assert single.status_code == 202, single.text
    await run_worker()
    conn = await asyncpg.connect(migrated_db)
    try:
        rows = await conn.fetch(
            "SELECT id, batch_id, status FROM background_removal_job WHERE user_id = ANY($1) ORDER BY finished_at",
            [batch_user.id, single_user.id],
        )
    finally:
        await conn.close()
    assert {r["status"] for r in rows} == {"completed"}
    order = [str(r["id"]) for r in rows]
    position = order.index(single.json()["id"])
    # the worker may already hold the first images of the batch; never the whole batch
    assert position <= 3, f"the single job finished {position + 1}th of {len(order)}"


async def test_users_take_turns_and_a_newcomer_starts_at_the_head(settings: Settings, queue: ArqRedis) -> None:
    name = settings.queue_name
    images = [FairImage(uuid.uuid4(), 3000) for _ in range(100)]
    batch = await fair_scores(queue, name, "alice", Lane.BATCH, images)
    await queue.zadd(name, {job_arq_id(image.job_id): s for image, s in zip(images, batch, strict=True)})
    await queue.set(in_progress_key(job_arq_id(images[0].job_id)), b"1", px=60_000)  # in service
    [single] = await fair_scores(queue, name, "bob", Lane.INTERACTIVE, [FairImage(uuid.uuid4(), 3000)])
    [third] = await fair_scores(queue, name, "carol", Lane.INTERACTIVE, [FairImage(uuid.uuid4(), 3000)])
    [own] = await fair_scores(queue, name, "alice", Lane.INTERACTIVE, [FairImage(uuid.uuid4(), 3000)])
    assert batch == sorted(batch) and len(set(batch)) == 100
    assert single < third < batch[1]  # newcomers wait for at most the image in service, in order of arrival
    # alice's own single takes her next turn, the one her batch's second image held; that image moves to
    # the end of her clock: her share stays one
    assert own == batch[1]
    displaced = await queue.zscore(name, job_arq_id(images[1].job_id))
    assert displaced is not None and displaced > batch[-1]
    [later] = await fair_scores(queue, name, "alice", Lane.BATCH, [FairImage(uuid.uuid4(), 3000)])
    assert later > displaced  # more of alice's batch work joins the end of her one clock


async def test_an_empty_queue_resets_every_clock(settings: Settings, queue: ArqRedis) -> None:
    name = settings.queue_name
    images = [FairImage(uuid.uuid4(), 3000) for _ in range(50)]
    batch = await fair_scores(queue, name, "alice", Lane.BATCH, images)
    await queue.zadd(name, {job_arq_id(image.job_id): s for image, s in zip(images, batch, strict=True)})
    await queue.delete(name)  # all done
    [again] = await fair_scores(queue, name, "alice", Lane.INTERACTIVE, [FairImage(uuid.uuid4(), 3000)])
    assert again < batch[1]  # nobody is owed anything: alice starts at the head again


async def test_one_round_trip_enqueues_arq_jobs_once_even_after_redis_forgot_the_script(
    settings: Settings, queue: ArqRedis
) -> None:
    name = settings.queue_name
    images = [FairImage(uuid.uuid4(), 3000) for _ in range(3)]
    await queue.script_flush()  # as after a Redis restart: the script is sent again, nothing is lost
    assert await enqueue_fairly(queue, name, "alice", Lane.BATCH, images) == 3
    assert await enqueue_fairly(queue, name, "alice", Lane.BATCH, images[:1]) == 0  # arq knows the id
    for image in images:
        info = await Job(job_arq_id(image.job_id), queue, _queue_name=name).info()
        assert info is not None and info.function == Task.PROCESS_JOB and info.args == (str(image.job_id),)
        assert await queue.zscore(name, job_arq_id(image.job_id)) is not None
        ttl = await queue.pttl(job_key_prefix + job_arq_id(image.job_id))
        assert 0 < ttl <= QUEUED_FOR.total_seconds() * 1000
