"""One fair share per user: a user's single jobs and batch images run on one clock, and a turn is priced
by the image's megapixels × its tier. Turns are read from arq's sorted set, lowest score first, the order
in which workers take runnable jobs (every fair score is in the past)."""

from __future__ import annotations

import asyncpg
import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from core.settings import Settings
from core.tasks import job_arq_id
from tests.support.api_client import API, User, submit
from tests.support.images import variant

ONE_MP = (1000, 1000)


async def queued_owners(queue: ArqRedis, settings: Settings, dsn: str, users: list[User]) -> list[tuple[str, bool]]:
    """(user id, is a batch image) of every queued image, in the order the workers will take them."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, user_id, batch_id FROM background_removal_job WHERE user_id = ANY($1)", [u.id for u in users]
        )
    finally:
        await conn.close()
    owner = {job_arq_id(r["id"]): (r["user_id"], r["batch_id"] is not None) for r in rows}
    raw_ids = await queue.zrange(settings.queue_name, 0, -1)
    queued = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in raw_ids]
    assert len(queued) == len(rows), "every accepted image is queued"
    return [owner[arq_id] for arq_id in queued]


async def submit_singles(
    api: AsyncTestClient,  # type: ignore[type-arg]
    user: User,
    settings: Settings,
    first: int,
    count: int,
    size: tuple[int, int] = ONE_MP,
) -> None:
    for i in range(first, first + count):
        r = await submit(api, user, variant(settings, i, size=size))
        assert r.status_code == 202, r.text


async def submit_batch(api: AsyncTestClient, user: User, settings: Settings, first: int, count: int) -> None:  # type: ignore[type-arg]
    files = [
        ("images[]", (f"{i}.jpg", variant(settings, i, size=ONE_MP), "image/jpeg")) for i in range(first, first + count)
    ]
    r = await api.post(API + "/batches", files=files, data={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("batch_user_arrives", ["second", "first"])
async def test_a_user_with_singles_and_a_batch_gets_half_the_turns_of_two_users(
    api, queue: ArqRedis, make_user, settings: Settings, migrated_db: str, batch_user_arrives: str
) -> None:
    """Before, singles and batch images ran on a clock each: the user with both took two turns for the
    other user's one (13 or 14 of the first 20 when arriving second)."""
    both, singles = await make_user(500), await make_user(500)
    if batch_user_arrives == "second":
        await submit_singles(api, singles, settings, 0, 10)
    await submit_batch(api, both, settings, 100, 20)
    await submit_singles(api, both, settings, 200, 10)
    if batch_user_arrives == "first":
        await submit_singles(api, singles, settings, 0, 10)

    order = await queued_owners(queue, settings, migrated_db, [both, singles])
    first_20 = order[:20]
    assert sum(user == both.id for user, _ in first_20) == 10, first_20
    assert sum(user == singles.id for user, _ in first_20) == 10, first_20
    assert first_20[0][0] == (both.id if batch_user_arrives == "first" else singles.id)  # arrival order
    # the lanes order only the user's own work: their single jobs take their turns ahead of their batch
    both_turns = [is_batch for user, is_batch in order if user == both.id]
    assert both_turns == [False] * 10 + [True] * 20


async def test_a_big_image_costs_a_turn_in_proportion_to_its_megapixels(
    api, queue: ArqRedis, make_user, settings: Settings, migrated_db: str
) -> None:
    """Before, a turn was priced per tier only: a 3 MP image took the same turn as a 1 MP one."""
    big, small = await make_user(500), await make_user(500)
    await submit_singles(api, big, settings, 0, 2, size=(2000, 1500))  # 3 MP each
    await submit_singles(api, small, settings, 10, 8, size=ONE_MP)
    order = [user for user, _ in await queued_owners(queue, settings, migrated_db, [big, small])]
    assert order[0] == big.id
    # the small user's first three images fit in the turn the big user's first 3 MP image took
    assert order.index(big.id, 1) == 4, order
    assert order[1:4] == [small.id] * 3


async def test_a_thumbnail_costs_the_floor_not_nothing(
    api, queue: ArqRedis, make_user, settings: Settings, migrated_db: str
) -> None:
    """A 0.03 MP image is priced as one megapixel: a stream of thumbnails is not a stream of free turns."""
    tiny, normal = await make_user(500), await make_user(500)
    await submit_singles(api, tiny, settings, 0, 4, size=(200, 134))
    await submit_singles(api, normal, settings, 10, 4, size=ONE_MP)
    order = [user for user, _ in await queued_owners(queue, settings, migrated_db, [tiny, normal])]
    assert order == [tiny.id, normal.id] * 4


async def test_a_single_that_takes_a_batch_turn_takes_as_many_as_it_costs(
    api, queue: ArqRedis, make_user, settings: Settings, migrated_db: str
) -> None:
    """A single took the turn of its user's earliest batch image whatever the single cost: a batch of
    thumbnails queued first made every later 49 MP single run in a thumbnail's turn (the second review:
    245 MP of one user's work against 5 MP of the other's in the first ten turns). Now a 3 MP single that
    takes a batch turn takes the three 1 MP turns it costs, and the other user's three go before its next."""
    both, other = await make_user(500), await make_user(500)
    await submit_batch(api, both, settings, 100, 12)
    await submit_singles(api, other, settings, 0, 8, size=ONE_MP)
    await submit_singles(api, both, settings, 200, 2, size=(2000, 1500))  # 3 MP each
    order = await queued_owners(queue, settings, migrated_db, [both, other])
    assert order[0] == (both.id, False), order
    assert order[1:4] == [(other.id, False)] * 3, order
    assert order[4] == (both.id, False), order
    # the user's batch still has every image, after their singles
    assert sum(1 for user, is_batch in order if user == both.id and is_batch) == 12
