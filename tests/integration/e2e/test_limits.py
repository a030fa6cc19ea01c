"""One client cannot starve the others: rate limits, a cap on queued images, a bounded queue."""

from __future__ import annotations

import dataclasses

from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.api_client import API, balance, submit
from tests.support.images import variant


async def test_rate_limit_answers_429_with_retry_after_and_headers(settings: Settings, make_user, queue) -> None:
    strict = dataclasses.replace(settings, rate_limit_per_s=0.5, rate_limit_burst=3)
    greedy = await make_user(0)
    polite = await make_user(0)
    async with AsyncTestClient(app=create_app(strict)) as client:
        answers = [await client.get(API + "/credits/balance", headers=greedy.headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["x-ratelimit-limit"] == "3"
        assert answers[0].headers["x-ratelimit-remaining"] == "2"
        limited = answers[3]
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert (await client.get(API + "/credits/balance", headers=polite.headers)).status_code == 200
        assert (await client.get(API + "/health/live")).status_code == 200


async def test_a_user_cannot_queue_more_than_the_cap(settings: Settings, make_user, queue) -> None:
    capped = dataclasses.replace(settings, max_queued_images_per_user=2)
    user = await make_user(100)
    async with AsyncTestClient(app=create_app(capped)) as client:
        for i in range(2):
            assert (await submit(client, user, variant(settings, i))).status_code == 202
        third = await submit(client, user, variant(settings, 3))
        assert third.status_code == 429
        assert third.json()["code"] == "too_many_queued_images"
        assert third.headers["retry-after"] == "10"
        assert await balance(client, user) == 94
        files = [("images[]", (f"{i}.jpg", variant(settings, i), "image/jpeg")) for i in range(2)]
        batch = await client.post(API + "/batches", files=files, data={"tier": "basic"}, headers=user.headers)
        assert batch.status_code == 429


async def test_a_full_queue_refuses_new_work_with_503_and_retry_after(settings: Settings, make_user, queue) -> None:
    bounded = dataclasses.replace(settings, max_queue_depth=1)
    user = await make_user(100)
    async with AsyncTestClient(app=create_app(bounded)) as client:
        assert (await submit(client, user, variant(settings, 1))).status_code == 202
        refused = await submit(client, user, variant(settings, 2))
        assert refused.status_code == 503
        assert refused.json()["code"] == "queue_full"
        assert refused.headers["retry-after"] == "30"
        assert await balance(client, user) == 97
