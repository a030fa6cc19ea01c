"""A caller's own job or batch by id, or 404: the one place that reads a row for its owner, for our
routes, the long polls and the Lumiku adapter alike (another user's id is answered exactly like one
that does not exist)."""

from __future__ import annotations

import uuid

from core.errors import NotFound
from core.rows import BatchRow, JobRow
from db import batches, jobs


async def own_job(job_id: uuid.UUID, user_id: str) -> JobRow:
    row = await jobs.get_job(job_id, user_id)
    if row is None:
        raise NotFound(f"No job {job_id}.", resource="job")
    return row


async def own_batch(batch_id: str, user_id: str) -> BatchRow:
    """``batch_id`` is the id or the public ``b_…`` id."""
    # a NUL cannot even be compared in PostgreSQL text; no id of ours is that long either
    usable = "\x00" not in batch_id and len(batch_id) <= 64
    row = await batches.get_batch(batch_id, user_id) if usable else None
    if row is None:
        raise NotFound(f"No batch {batch_id}.", resource="batch")
    return row
