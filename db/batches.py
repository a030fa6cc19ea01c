"""Reading batches."""

from __future__ import annotations

from db.tables import BackgroundRemovalBatch


async def count_batches(user_id: str) -> int:
    return int(await BackgroundRemovalBatch.count().where(BackgroundRemovalBatch.user_id == user_id))
