"""Requests that wait for a job (remove.bg, Lumiku's ``POST /remove``, long polls) hold a connection each:
bounded per user and in all, answered at once beyond that, without the upload while they wait, ended
when the client goes away or the server stops, and never a free way to hold the server.

No worker runs in these tests, which is the honest way to back the queue up: every job stays pending.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import io
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from redis.asyncio import Redis

from api.app import create_app
from api.wait_slots import SlotRefusal, WaitSlots
from core.rows import JobRow
from core.settings import Settings
from core.statuses import JobStatus
from db import credits, jobs
from tests.support.api_client import API, User
from tests.support.api_keys import create_key
from tests.support.images import variant
from tests.support.processes import ROOT, ApiProcess, api_process, env_with
from tests.support.removebg import REMOVEBG, new_key, the_error

MakeUser = Callable[..., Awaitable[User]]
STANDARD = 8  # credits of one remove.bg image (REMOVEBG_TIER=standard)


def photo(settings: Settings) -> bytes:
    return variant(settings, 9, size=(320, 214))


async def pending_jobs(user: User) -> list[JobRow]:
    rows, _ = await jobs.list_single_jobs(user.id, limit=100, cursor=None)
    return [row for row in rows if row.status is JobStatus.PENDING]


async def post_job(http: httpx.AsyncClient, user: User, image: bytes) -> httpx.Response:
    return await http.post(
        API + "/jobs", files={"image": ("a.jpg", image)}, data={"tier": "basic"}, headers=user.headers
    )


async def lumiku_remove(http: httpx.AsyncClient, user: User, image: bytes) -> httpx.Response:
    """The original backend's synchronous ``POST /remove``."""
    return await http.post(
        API + "/remove", files={"image": ("b.jpg", image)}, data={"tier": "basic"}, headers=user.headers
    )


async def until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


def send_and_hold(
    base_url: str, path: str, headers: dict[str, str], body: bytes, length: int | None = None
) -> socket.socket:
    """A whole request, then nothing: the client neither reads the answer nor closes the connection.
    ``length``: the ``Content-Length`` to announce, when more than ``body`` (an upload still arriving)."""
    url = urlsplit(base_url)
    sock = socket.create_connection((url.hostname, url.port))
    head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {length or len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return sock


async def test_slots_per_user_and_in_all(settings: Settings, arq_redis: Redis) -> None:
    slots = WaitSlots(dataclasses.replace(settings, max_waits_per_user=2, max_waits=3, max_connections=100))
    greedy, other, third = (f"slots-{uuid.uuid4().hex[:8]}" for _ in range(3))
    async with (
        slots.slot(arq_redis, greedy) as a,
        slots.slot(arq_redis, greedy) as b,
        slots.slot(arq_redis, greedy) as c,
    ):
        assert a.granted and b.granted
        assert c.refusal is SlotRefusal.USER_FULL
        async with slots.slot(arq_redis, other) as d, slots.slot(arq_redis, third) as e:
            assert d.granted
            assert e.refusal is SlotRefusal.SERVER_FULL  # the low finding: many accounts, one cap
    async with slots.slot(arq_redis, greedy) as again:
        assert again.granted
    # waits always leave a fifth of the connections to requests that do not wait
    assert WaitSlots(dataclasses.replace(settings, max_waits=400, max_connections=20)).total == 16
    slots.stop()
    async with slots.slot(arq_redis, "anyone") as late:
        assert late.refusal is SlotRefusal.STOPPING


async def test_a_users_slots_are_shared_by_every_api_process(settings: Settings, arq_redis: Redis) -> None:
    """Counted per process, a user's waits grew with the number of API processes. The slots are now in
    Redis: what one process holds, another refuses; a wait longer than the lease keeps its slot; a slot
    that a dead process never released is free again after the lease; and without Redis each process
    still bounds waits on its own."""
    capped = dataclasses.replace(settings, max_waits_per_user=2)
    first, second = WaitSlots(capped), WaitSlots(capped)
    user = f"slots-{uuid.uuid4().hex[:8]}"
    async with first.slot(arq_redis, user) as a, second.slot(arq_redis, user) as b:
        assert a.granted and b.granted
        async with first.slot(arq_redis, user) as c, second.slot(arq_redis, user) as d:
            assert c.refusal is SlotRefusal.USER_FULL and d.refusal is SlotRefusal.USER_FULL
    async with second.slot(arq_redis, user) as e, second.slot(arq_redis, user) as f:
        assert e.granted and f.granted  # released as the waits ended

    # a wait longer than the lease keeps its slot: its holder renews it
    leased = WaitSlots(capped, lease_s=1.0)
    async with leased.slot(arq_redis, user) as long_a, leased.slot(arq_redis, user) as long_b:
        assert long_a.granted and long_b.granted
        await asyncio.sleep(2.5)
        async with first.slot(arq_redis, user) as still_full:
            assert still_full.refusal is SlotRefusal.USER_FULL

    # a process that dies holding its slots: they are free again once their lease runs out
    dying = (
        "import asyncio, dataclasses, os, sys\n"
        "from redis.asyncio import Redis\n"
        "from api.wait_slots import WaitSlots\n"
        "from core.settings import get_settings\n"
        "async def main():\n"
        "    settings = dataclasses.replace(get_settings(), max_waits_per_user=2)\n"
        "    slots, redis = WaitSlots(settings, lease_s=1.0), Redis.from_url(settings.redis_url)\n"
        "    for _ in range(2):\n"
        "        assert (await slots.slot(redis, sys.argv[1]).__aenter__()).granted\n"
        "    os._exit(0)\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", dying, user], cwd=ROOT, check=True, timeout=60)
    async with first.slot(arq_redis, user) as refused:
        assert refused.refusal is SlotRefusal.USER_FULL
    await asyncio.sleep(1.2)
    async with first.slot(arq_redis, user) as lapsed:
        assert lapsed.granted

    # Redis unreachable: the process's own bound still holds, and waits are not refused for it
    gone = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        alone = WaitSlots(capped)
        async with alone.slot(gone, user) as g, alone.slot(gone, user) as h, alone.slot(gone, user) as i:
            assert g.granted and h.granted
            assert i.refusal is SlotRefusal.USER_FULL
    finally:
        await gone.aclose()


async def test_two_api_processes_hold_no_more_of_a_users_waits_than_one(
    make_user: MakeUser, settings: Settings
) -> None:
    """Behind a load balancer, a user's long polls spread over the API processes: the cap is the user's,
    not each process's. With ``MAX_WAITS_PER_USER=2``, two polls held by one process leave none for the
    other, which answers the third at once as a plain poll."""
    user = await make_user(100)
    env = env_with(MAX_WAITS_PER_USER="2")
    with api_process(env) as first, api_process(env) as second:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=60) as http:
            r = await post_job(http, user, photo(settings))
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
        held = [asyncio.create_task(_long_poll(first.base_url, user, job_id)) for _ in range(2)]
        done, _ = await asyncio.wait(held, timeout=2)
        assert not done  # both are waiting in the first process
        started = time.monotonic()
        third = await _long_poll(second.base_url, user, job_id)
        assert time.monotonic() - started < 5
        assert third.status_code == 200 and third.json()["status"] == "pending"
        assert third.headers["retry-after"] == "1"  # a plain poll: no slot was left to wait in
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)


async def test_one_users_concurrent_removebg_calls_beyond_the_slots_get_429_at_once(
    make_user: MakeUser, settings: Settings
) -> None:
    """The attack of the review: with the queue backed up, 30 concurrent calls of one user were all held
    for 60 s. Now the ones beyond the user's slots (20) get remove.bg's 429 at once, and are not charged."""
    user = await make_user(30 * STANDARD)
    with api_process(env_with(REMOVEBG_WAIT_S="60")) as api:
        key = {"X-Api-Key": new_key(api.base_url, user)}
        image = photo(settings)
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=90, limits=limits) as http:
            calls = [
                asyncio.create_task(http.post(REMOVEBG, files={"image_file": ("a.jpg", image)}, headers=key))
                for _ in range(30)
            ]
            started = time.monotonic()
            while sum(t.done() for t in calls) < 10 and time.monotonic() - started < 10:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # any more that would be answered at once
            done, held = {t for t in calls if t.done()}, {t for t in calls if not t.done()}
            refused = [t.result() for t in done]
            assert len(refused) >= 10, [r.status_code for r in refused]
            for r in refused:
                assert r.status_code == 429, r.text
                assert the_error(r)["code"] == "rate_limit_exceeded"
                assert int(r.headers["retry-after"]) >= 1
            assert len(held) == 30 - len(refused)

            async def all_held_are_queued() -> bool:
                return len(await pending_jobs(user)) == len(held)

            await until(all_held_are_queued)
            # the refused were never charged; the held are, until their clients give up (below)
            assert await credits.balance(user.id) == (30 - len(held)) * STANDARD
            for task in held:
                task.cancel()
            await asyncio.gather(*held, return_exceptions=True)

            async def all_refunded() -> bool:
                return await credits.balance(user.id) == 30 * STANDARD

            await until(all_refunded)
            assert await pending_jobs(user) == []


async def test_a_client_that_goes_away_gets_its_job_cancelled_and_refunded(
    make_user: MakeUser, settings: Settings
) -> None:
    """remove.bg and Lumiku's ``POST /remove``: the wait ends when the connection does, and the job no
    worker has started is cancelled, its credits given back."""
    user = await make_user(100)
    with api_process(env_with(REMOVEBG_WAIT_S="60", LUMIKU_WAIT_S="55")) as api:
        key = {"X-Api-Key": new_key(api.base_url, user)}
        async with httpx.AsyncClient(base_url=api.base_url, timeout=90) as http:
            removebg = asyncio.create_task(
                http.post(REMOVEBG, files={"image_file": ("a.jpg", photo(settings))}, headers=key)
            )
            lumiku = asyncio.create_task(lumiku_remove(http, user, variant(settings, 3)))

            async def both_waiting() -> bool:
                return len(await pending_jobs(user)) == 2

            await until(both_waiting)
            assert await credits.balance(user.id) < 100
            started = time.monotonic()
            for task in (removebg, lumiku):
                task.cancel()
            await asyncio.gather(removebg, lumiku, return_exceptions=True)

            async def refunded() -> bool:
                return await credits.balance(user.id) == 100

            await until(refunded, timeout_s=10)
            assert time.monotonic() - started < 10  # not at the end of the 60 s wait
            rows, _ = await jobs.list_single_jobs(user.id, limit=10, cursor=None)
            assert [row.status for row in rows] == [JobStatus.CANCELLED, JobStatus.CANCELLED]


async def test_a_timed_out_and_refunded_call_still_counts_against_the_rate_limit(
    settings: Settings, make_user: MakeUser, migrated_db: str
) -> None:
    """A refund must not make holding a connection free: the time the wait held counts as requests."""
    app = create_app(dataclasses.replace(settings, removebg_wait_s=2.0, rate_limit_per_s=2.0, rate_limit_burst=4))
    async with AsyncTestClient(app=app) as client:
        user = await make_user(20)
        headers = {"X-Api-Key": (await create_key(client, user))["key"]}  # 1 of 4
        r = await client.post(REMOVEBG, files={"image_file": ("a.jpg", photo(settings))}, headers=headers)
        assert r.status_code == 504 and "nothing was charged" in the_error(r)["detail"]
        assert await credits.balance(user.id) == 20
        # the bucket refilled while the call waited; its 2 s then cost 2 s of requests
        r = await client.get("/v1.0/account", headers=headers)
        assert r.status_code == 429, r.text
        assert the_error(r)["code"] == "rate_limit_exceeded"


async def test_refunded_waits_held_together_cost_one_burst_each(make_user: MakeUser, settings: Settings) -> None:
    """The bucket's debt stopped at one burst, so a user's twenty waits held together and refunded cost
    what two held one after the other did: an account could keep its slots held for nothing. Each now
    costs its own burst (down to one burst per wait slot)."""
    user = await make_user(100)
    env = env_with(REMOVEBG_WAIT_S="3", RATE_LIMIT_PER_S="2", RATE_LIMIT_BURST="6")
    with api_process(env) as api:  # no worker: every call times out and is refunded
        key = {"X-Api-Key": new_key(api.base_url, user)}
        image = photo(settings)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            answers = await asyncio.gather(
                *[http.post(REMOVEBG, files={"image_file": ("a.jpg", image)}, headers=key) for _ in range(3)]
            )
            assert [r.status_code for r in answers] == [504] * 3, [r.text for r in answers]
            assert await credits.balance(user.id) == 100
            # three 3 s waits at 2 requests a second, a burst (6) each: 18 requests of debt, ~6.5 s before
            # the next request; with the old floor of one burst it was ~3.5 s
            r = await http.get("/v1.0/account", headers=key)
            assert r.status_code == 429, r.text
            assert int(r.headers["retry-after"]) >= 6, r.headers


async def test_lumiku_remove_without_a_slot_answers_202_with_the_job_at_once(
    settings: Settings, make_user: MakeUser
) -> None:
    """The original clients read a job from ``POST /remove``: with no slot to wait in, the job is queued
    and answered at once, still pending, with where to poll it."""
    user = await make_user(100)
    with api_process(env_with(MAX_WAITS_PER_USER="1", LUMIKU_WAIT_S="8")) as api:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            first = asyncio.create_task(lumiku_remove(http, user, variant(settings, 1)))

            async def first_waiting() -> bool:
                return len(await pending_jobs(user)) == 1

            await until(first_waiting)
            started = time.monotonic()
            second = await lumiku_remove(http, user, variant(settings, 2))
            assert time.monotonic() - started < 4
            assert second.status_code == 202, second.text
            job = second.json()["job"]
            assert job["status"] == "pending"
            assert second.headers["location"] == f"{API}/jobs/{job['id']}"
            assert second.headers["retry-after"] == "1"
            assert not first.done()
            assert (await first).status_code == 202  # waited its 8 s: no worker here


async def test_many_accounts_long_polling_cannot_take_every_connection(make_user: MakeUser, settings: Settings) -> None:
    """The low finding: the long-poll cap was per user, so enough accounts held every connection and the
    next client got 503. Waits now stop at 4/5 of ``MAX_CONNECTIONS`` in all; the rest are answered at
    once, as plain polls, and a new request still gets in."""
    users = [await make_user(100) for _ in range(5)]
    with api_process(env_with(MAX_CONNECTIONS="10")) as api:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http:
            job_ids = []
            for user in users:
                r = await post_job(http, user, photo(settings))
                assert r.status_code == 202, r.text
                job_ids.append(r.json()["id"])
        polls = [
            asyncio.create_task(_long_poll(api.base_url, user, job_id))
            for user, job_id in zip(users, job_ids, strict=True)
            for _ in range(2)
        ]
        done, held = await asyncio.wait(polls, timeout=5)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
            newcomer = await make_user(100)
            r = await post_job(http, newcomer, photo(settings))
            assert r.status_code == 202, r.text
        assert len(held) == 8 and len(done) == 2
        for task in done:
            r = task.result()
            assert r.status_code == 200 and r.json()["status"] == "pending"
            assert r.headers["retry-after"] == "1"  # a plain poll: ask again later
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)


async def _long_poll(base_url: str, user: User, job_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        return await http.get(f"{API}/jobs/{job_id}?wait=30", headers={**user.headers, "Connection": "close"})


def big_png_b64(megabytes_of_json: float) -> str:
    """A valid PNG (noise, so it does not compress) whose base64 is about that many megabytes."""
    side = int((megabytes_of_json * 1e6 * 3 / 4 / 3) ** 0.5)
    pixels = np.random.default_rng(7).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=0)
    return base64.b64encode(out.getvalue()).decode("ascii")


async def test_abandoned_json_uploads_do_not_hold_their_memory(make_user: MakeUser) -> None:
    """The review's measure: 10 JSON uploads of 15 MB (``image_file_b64``), abandoned while they wait,
    held +820 MB of the API for 60 s. The wait keeps the job's id, not the request."""
    user = await make_user(10 * STANDARD)
    body = json.dumps({"image_file_b64": big_png_b64(15), "size": "full"}).encode()
    assert len(body) > 14_000_000
    with api_process(env_with(REMOVEBG_WAIT_S="60")) as api:
        key = {"X-Api-Key": new_key(api.base_url, user)}
        async with httpx.AsyncClient(base_url=api.base_url, timeout=90) as http:
            warm = await http.post(REMOVEBG, content=b"{}", headers={**key, "Content-Type": "application/json"})
            assert warm.status_code == 400
            before = api.rss_bytes()
            headers = {**key, "Content-Type": "application/json"}
            sockets = [send_and_hold(api.base_url, REMOVEBG, headers, body) for _ in range(10)]
            try:

                async def all_waiting() -> bool:
                    return len(await pending_jobs(user)) == 10

                await until(all_waiting, timeout_s=60)
                await asyncio.sleep(1)
                grown = api.rss_bytes() - before
                assert grown < 200 * 1024**2, f"API RSS grew by {grown / 1024**2:.0f} MB"
            finally:
                for sock in sockets:
                    sock.close()

            async def refunded() -> bool:
                return await credits.balance(user.id) == 10 * STANDARD

            await until(refunded)  # abandoned: cancelled and refunded without waiting out the 60 s


async def test_the_api_stops_within_seconds_of_sigterm_with_waits_open(make_user: MakeUser, settings: Settings) -> None:
    """It took 58 s, abandoned remove.bg waits running out their 60 s. Now every wait ends at once with
    a retryable answer: remove.bg 503 with ``Retry-After`` (the job not started is refunded), Lumiku
    202 with the job to poll, a long poll its current state."""
    user = await make_user(200)
    with api_process(env_with(REMOVEBG_WAIT_S="60", LUMIKU_WAIT_S="55")) as api:
        key = {"X-Api-Key": new_key(api.base_url, user)}
        image = photo(settings)
        boundary = uuid.uuid4().hex
        multipart = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="a.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + image
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {**key, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        abandoned = [send_and_hold(api.base_url, REMOVEBG, headers, multipart) for _ in range(5)]
        async with httpx.AsyncClient(base_url=api.base_url, timeout=90) as http:
            removebg = asyncio.create_task(http.post(REMOVEBG, files={"image_file": ("a.jpg", image)}, headers=key))
            lumiku = asyncio.create_task(lumiku_remove(http, user, image))

            async def all_waiting() -> bool:
                return len(await pending_jobs(user)) == 7

            await until(all_waiting)
            # the Lumiku job (basic tier): shutdown leaves it pending, where a remove.bg job is cancelled and
            # refunded, which would answer the poll as a final state instead of the shutdown's retry
            job_id = next(j.id for j in await pending_jobs(user) if j.tier == "basic")
            poll = asyncio.create_task(http.get(f"{API}/jobs/{job_id}?wait=30", headers=user.headers))
            await asyncio.sleep(1)
            assert not (removebg.done() or lumiku.done() or poll.done())
            stopped_in = await asyncio.to_thread(_terminate, api)
            assert stopped_in < 10, f"the API took {stopped_in:.1f} s to exit"
            r = await removebg
            assert r.status_code == 503, r.text
            assert int(r.headers["retry-after"]) >= 1
            assert "nothing was charged" in the_error(r)["detail"]
            r = await lumiku
            assert r.status_code == 202, r.text
            assert r.json()["job"]["status"] == "pending" and r.headers["location"]
            r = await poll
            assert r.status_code == 200 and r.headers["retry-after"] == "1"
        for sock in abandoned:
            sock.close()
    # the remove.bg jobs were refunded (the Lumiku job stays queued, as its answer says)
    rows, _ = await jobs.list_single_jobs(user.id, limit=10, cursor=None)
    [lumiku_job] = [j for j in rows if j.tier == "basic"]
    assert await credits.balance(user.id) == 200 - lumiku_job.credits_charged


async def test_an_upload_still_arriving_at_shutdown_is_told_to_retry(make_user: MakeUser, settings: Settings) -> None:
    """An upload still arriving when the grace period after SIGTERM ran out was cancelled by uvicorn and
    answered ``500`` (second review): a client does not retry that. Now ``503`` with ``Retry-After``."""
    user = await make_user(200)
    with api_process(env_with(API_SHUTDOWN_GRACE_S="2")) as api:
        key = {"X-Api-Key": new_key(api.base_url, user)}
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        headers = {**key, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        sock = send_and_hold(api.base_url, REMOVEBG, headers, head + photo(settings)[:1000], length=5_000_000)
        await asyncio.sleep(1)  # the request is in the app, reading its body
        stopped_in = await asyncio.to_thread(_terminate, api)
        sock.settimeout(5)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
        sock.close()
    assert stopped_in < 10, f"the API took {stopped_in:.1f} s to exit"
    assert answer.startswith(b"HTTP/1.1 503"), answer[:300]
    assert b"retry-after: 5" in answer.lower() and b"service_unavailable" in answer, answer[:600]


def _terminate(api: ApiProcess) -> float:
    started = time.monotonic()
    api.process.terminate()
    try:
        api.process.wait(timeout=20)
    except Exception:
        pytest.fail("the API did not exit within 20 s of SIGTERM")
    return time.monotonic() - started
