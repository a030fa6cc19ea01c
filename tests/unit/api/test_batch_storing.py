"""Storing a batch's images lets other requests run between them, now that a small upload is written
without leaving the event loop (core.storage.LocalStorage.put)."""

from __future__ import annotations

import io
from pathlib import Path

from litestar.datastructures import UploadFile
from PIL import Image

from api.submissions import Order, Submissions
from core.options import OutputOptions
from core.settings import get_settings
from core.storage import LocalStorage
from db.billing import PayingPower
from tests.support.loop_turns import other_tasks_turns


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
    async with other_tasks_turns() as turns:
        stored = await submissions.store("u1", order, files)
    assert len(stored) == 50
    assert all([await store.exists(s.key) for s in stored])
    assert turns.count >= len(files) - 1
