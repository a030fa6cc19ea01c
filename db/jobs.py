"""Reading jobs: the caller's single jobs, newest first, with keyset pagination."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from core.errors import InvalidOptions
from db.tables import BackgroundRemovalJob


def encode_cursor(created_at: dt.datetime, job_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, job_id = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        return dt.datetime.fromisoformat(created), uuid.UUID(job_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidOptions("`cursor` is not a cursor returned by this API", parameter="cursor") from exc


async def list_single_jobs(user_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the user's single jobs (not batch images) and the cursor of the next page."""
    job = BackgroundRemovalJob
    where = (job.user_id == user_id) & job.batch_id.is_null()
    if cursor:
        created_at, job_id = decode_cursor(cursor)
        where &= (job.created_at < created_at) | ((job.created_at == created_at) & (job.id < job_id))
    rows = await job.select().where(where).order_by(job.created_at, job.id, ascending=False).limit(limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last["created_at"], last["id"])
    return rows, next_cursor


async def count_single_jobs(user_id: str) -> int:
    job = BackgroundRemovalJob
    return int(await job.count().where((job.user_id == user_id) & job.batch_id.is_null()))


async def completed_counts_by_tier(user_id: str) -> dict[str, int]:
    rows = await BackgroundRemovalJob.raw(
        "SELECT tier, count(*)::int AS n FROM background_removal_job "
        "WHERE user_id = {} AND status = 'completed' GROUP BY tier",
        user_id,
    )
    return {r["tier"]: r["n"] for r in rows}
