"""Storing a batch's images lets other requests run between them, now that a small upload is written
without leaving the event loop (core.storage.LocalStorage.put)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from litestar.datastructures import UploadFile
from PIL import Image

from api.submissions import Order, Submissions
from core.options import OutputOptions
from core.settings import get_settings
from core.storage import LocalStorage
from db.billing import PayingPower


def _jpeg(index: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (index * 3 % 256, 120, 200)).save(out, "JPEG")
    return out.getvalue()


async def test_other_requests_run_between_the_images_of_a_batch_being_stored(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "storage")
    power = PayingPower("u1", balance=10_000, quota_tiers=frozenset())
    submissions = Submissions(get_settings(), store, enqueuer=None, redis=None, paying_power=power)  # type: ignore[arg-type]
    files = [UploadFile("image/jpeg", f"photo {i}.jpg", file_data=_jpeg(i)) for i in range(50)]
    order = Order(tier="basic", unit_credits=1, options=OutputOptions(), webhook_url=None)
    turns = 0

    async def another_request() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(another_request())
    await asyncio.sleep(0)
    before = turns
    stored = await submissions.store("u1", order, files)
    other.cancel()
    assert len(stored) == 50
    assert all([await store.exists(s.key) for s in stored])
    assert turns - before >= len(files) - 1
