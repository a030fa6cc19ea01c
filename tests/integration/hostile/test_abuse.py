"""An attacker's requests against money, disk and compute: refused early, nothing charged or stored."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient
from PIL import Image

from api.app import create_app
from api.schema_gate import SchemaGate
from core.errors import OutputTooLarge
from core.options import OutputOptions
from core.settings import Settings
from db.tables import BackgroundRemovalJob
from engine.render import render
from tests.integration.hostile.helpers import (
    Client,
    MakeUser,
    assert_nothing_recorded,
    assert_problem,
    small_png,
)
from tests.support.api_client import API, balance, submit
from tests.support.tcp_proxy import tcp_proxy


def stored_files(settings: Settings) -> set[Path]:
    root = settings.storage_dir
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


async def test_a_user_without_credits_is_refused_before_the_webhook_host_is_looked_up(
    api: Client, make_user: MakeUser
) -> None:
    user = await make_user(0)
    # a host no resolver can answer quickly; a paying user's request would wait on it
    r = await submit(api, user, small_png(), webhook_url="https://webhook.invalid/hook")
    assert_problem(r, 402, "insufficient_credits")


async def test_a_webhook_host_on_a_private_address_is_refused_without_naming_the_address(
    api: Client, make_user: MakeUser
) -> None:
    user = await make_user(50)
    r = await submit(api, user, small_png(), webhook_url="http://localhost.:8080/hook")
    body = assert_problem(r, 422, "invalid_webhook_url")
    assert "127.0.0.1" not in r.text and "::1" not in r.text, body
    await assert_nothing_recorded(api, user, 50)


async def test_a_batch_from_a_user_without_credits_stores_nothing(
    api: Client, make_user: MakeUser, settings: Settings
) -> None:
    user = await make_user(0)
    before = stored_files(settings)
    images = [("images[]", (f"{i}.png", png(640, 480), "image/png")) for i in range(20)]
    r = await api.post(API + "/batches", files=images, data={"tier": "basic"}, headers=user.headers)
    body = assert_problem(r, 402, "insufficient_credits")
    assert body["required"] > 0 and body["balance"] == 0
    assert stored_files(settings) == before
    await assert_nothing_recorded(api, user, 0)


async def test_a_batch_the_user_cannot_pay_for_in_full_stores_nothing(
    api: Client, make_user: MakeUser, settings: Settings
) -> None:
    user = await make_user(5)  # two basic images cost 6
    before = stored_files(settings)
    images = [("images[]", (f"{i}.png", png(64, 48), "image/png")) for i in range(2)]
    r = await api.post(API + "/batches", files=images, data={"tier": "basic"}, headers=user.headers)
    assert_problem(r, 402, "insufficient_credits")
    assert stored_files(settings) == before
    await assert_nothing_recorded(api, user, 5)


async def test_cancel_deletes_the_stored_upload_at_once(api: Client, make_user: MakeUser, settings: Settings) -> None:
    user = await make_user(10)
    before = stored_files(settings)
    r = await submit(api, user, png(800, 600), filename="big.png")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert len(stored_files(settings) - before) == 1
    cancelled = await api.delete(f"{API}/jobs/{job_id}", headers=user.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert stored_files(settings) - before == set()
    assert await balance(api, user) == 10
    row = await BackgroundRemovalJob.select(BackgroundRemovalJob.input_key).where(BackgroundRemovalJob.id == job_id)
    assert row[0]["input_key"] is None


@pytest.fixture
async def tight_api(settings: Settings, migrated_db: str, queue: ArqRedis) -> AsyncIterator[Client]:
    """The API with a small per-user bound on stored, unprocessed uploads."""
    tight = dataclasses.replace(settings, max_pending_bytes_per_user=60_000)
    async with AsyncTestClient(app=create_app(tight), timeout=60) as client:
        yield client


async def test_one_user_cannot_keep_more_than_the_storage_bound_waiting(
    tight_api: Client, make_user: MakeUser, settings: Settings
) -> None:
    user = await make_user(100)
    image = png(400, 300) + b"\0" * 25_000  # about 26 kB, padding after IEND is ignored by decoders
    assert (await submit(tight_api, user, image, filename="a.png")).status_code == 202
    assert (await submit(tight_api, user, image, filename="b.png")).status_code == 202
    before = stored_files(settings)
    r = await submit(tight_api, user, image, filename="c.png")
    body = assert_problem(r, 429, "storage_quota_exceeded")
    assert body["limit"] == 60_000 and "retry-after" in r.headers
    assert stored_files(settings) == before
    assert await balance(tight_api, user) == 100 - 2 * 3
    # cancelling frees the room again
    listed = (await tight_api.get(API + "/jobs", headers=user.headers)).json()["jobs"]
    assert (await tight_api.delete(f"{API}/jobs/{listed[0]['id']}", headers=user.headers)).status_code == 200
    assert (await submit(tight_api, user, image, filename="c.png")).status_code == 202


async def test_an_output_its_format_cannot_hold_is_refused_at_submission(api: Client, make_user: MakeUser) -> None:
    user = await make_user(50)
    wide = png(16_400, 16)  # WebP holds at most 16,383 px a side
    r = await submit(api, user, wide, filename="wide.png", format="webp")
    body = assert_problem(r, 422, "output_too_large")
    assert body["maxSide"] == 16383 and "size=" in body["detail"]
    await assert_nothing_recorded(api, user, 50)
    # the same image with a size the format can hold is accepted
    ok = await submit(api, user, wide, filename="wide.png", format="webp", size="4096")
    assert ok.status_code == 202, ok.text


def test_an_encoder_refusal_is_final_not_a_retryable_crash() -> None:
    pixels = np.full((16, 16_400, 3), 200, dtype=np.uint8)
    alpha = np.full(pixels.shape[:2], 255, dtype=np.uint8)
    with pytest.raises(OutputTooLarge):  # a BgRemoverError: the worker fails the job once, refunded
        render(pixels, alpha, OutputOptions(format="webp"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("size", "²"),
        ("size", "٣٠٠"),
        ("size", "9" * 5000),
        ("crop_margin", "1000000"),
        ("crop_margin", "9" * 5000),
        ("crop_margin", "1e9"),
    ],
    ids=["superscript", "arabic-digits", "5000-digits", "huge-margin", "5000-digit-margin", "exponent"],
)
async def test_malformed_numbers_are_a_422_not_a_500_or_a_late_failure(
    api: Client, make_user: MakeUser, field: str, value: str
) -> None:
    user = await make_user(20)
    r = await api.post(
        API + "/jobs",
        files={"image": ("photo.png", small_png(), "image/png")},
        data={"tier": "basic", "crop": "true", field: value},
        headers=user.headers,
    )
    body = assert_problem(r, 422, "invalid_options")
    assert len(body["detail"]) < 300
    await assert_nothing_recorded(api, user, 20)


async def test_readiness_probes_open_at_most_one_database_connection_a_second(
    settings: Settings, migrated_db: str
) -> None:
    dsn = urlsplit(settings.database_url)
    with tcp_proxy(dsn.hostname or "127.0.0.1", dsn.port or 5432) as proxy:
        proxied = settings.database_url.replace(dsn.netloc, f"{dsn.username}@127.0.0.1:{proxy.port}")
        gate = SchemaGate(proxied, timeout_s=5.0)
        statuses = await asyncio.gather(*(gate.recent() for _ in range(200)))
        assert all(s.ready for s in statuses)
        assert proxy.connections == 1
