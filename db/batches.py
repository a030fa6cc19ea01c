"""Batches: creation, progress, the final status, listing."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from core.rows import BatchImageRow, BatchRow
from core.statuses import UNFINISHED, sql_list
from db.tables import BackgroundRemovalBatch

_BATCH_COLUMNS = (
    "id, user_id, public_id, name, tier, status, total_images, processed_images, failed_images, "
    "credits_before_discount, credits_charged, discount_percent, output_options, zip_key, webhook_url, "
    "created_at, started_at, finished_at"
)


async def count_batches(user_id: str) -> int:
    return int(await BackgroundRemovalBatch.count().where(BackgroundRemovalBatch.user_id == user_id))


async def insert_batch(
    *,
    batch_id: uuid.UUID,
    public_id: str,
    name: str | None,
    user_id: str,
    tier: str,
    total_images: int,
    credits_before_discount: int,
    credits_charged: int,
    discount_percent: int,
    output_options: dict[str, str],
    webhook_url: str | None,
) -> BatchRow:
    rows = await BackgroundRemovalBatch.raw(
        "INSERT INTO background_removal_batch (id, user_id, public_id, name, tier, status, total_images, "
        "credits_before_discount, credits_charged, discount_percent, output_options, webhook_url, created_at) "
        "VALUES ({}, {}, {}, {}, {}, 'pending', {}, {}, {}, {}, {}::jsonb, {}, clock_timestamp()) "
        "RETURNING " + _BATCH_COLUMNS,
        batch_id,
        user_id,
        public_id,
        name,
        tier,
        total_images,
        credits_before_discount,
        credits_charged,
        discount_percent,
        json.dumps(output_options),
        webhook_url,
    )
    return BatchRow.from_record(rows[0])


async def get_batch(batch_id: uuid.UUID | str, user_id: str) -> BatchRow | None:
    """By internal id or public batch id; another user's batch is not found."""
    key = str(batch_id)
    try:
        as_uuid: uuid.UUID | None = uuid.UUID(key)
    except ValueError:
        as_uuid = None
    if as_uuid is not None:
        rows = await BackgroundRemovalBatch.raw(
            "SELECT " + _BATCH_COLUMNS + " FROM background_removal_batch WHERE id = {} AND user_id = {}",
            as_uuid,
            user_id,
        )
    else:
        rows = await BackgroundRemovalBatch.raw(
            "SELECT " + _BATCH_COLUMNS + " FROM background_removal_batch WHERE public_id = {} AND user_id = {}",
            key,
            user_id,
        )
    return BatchRow.from_record(rows[0]) if rows else None


async def get_batch_by_id(batch_id: uuid.UUID) -> BatchRow | None:
    rows = await BackgroundRemovalBatch.raw(
        "SELECT " + _BATCH_COLUMNS + " FROM background_removal_batch WHERE id = {}", batch_id
    )
    return BatchRow.from_record(rows[0]) if rows else None


async def batch_images(batch_id: uuid.UUID) -> list[BatchImageRow]:
    rows = await BackgroundRemovalBatch.raw(
        "SELECT id, position, original_filename, status, error_code, error_message, output_key, "
        "credits_charged, processing_ms, finished_at FROM background_removal_job "
        "WHERE batch_id = {} ORDER BY position",
        batch_id,
    )
    return [BatchImageRow.from_record(r) for r in rows]


async def list_batches(
    user_id: str, *, limit: int, before: tuple[dt.datetime, uuid.UUID] | None
) -> tuple[list[BatchRow], tuple[dt.datetime, uuid.UUID] | None]:
    if before is None:
        rows = await BackgroundRemovalBatch.raw(
            "SELECT " + _BATCH_COLUMNS + " FROM background_removal_batch WHERE user_id = {} "
            "ORDER BY created_at DESC, id DESC LIMIT {}",
            user_id,
            limit + 1,
        )
    else:
        rows = await BackgroundRemovalBatch.raw(
            "SELECT " + _BATCH_COLUMNS + " FROM background_removal_batch WHERE user_id = {} "
            "AND (created_at, id) < ({}, {}) ORDER BY created_at DESC, id DESC LIMIT {}",
            user_id,
            before[0],
            before[1],
            limit + 1,
        )
    page = [BatchRow.from_record(r) for r in rows[:limit]]
    nxt = (page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return page, nxt


async def mark_started(batch_id: uuid.UUID) -> None:
    await BackgroundRemovalBatch.raw(
        "UPDATE background_removal_batch SET status = 'processing', started_at = COALESCE(started_at, now()) "
        "WHERE id = {} AND status = 'pending'",
        batch_id,
    )


async def count_finished_image(batch_id: uuid.UUID, *, failed: bool) -> bool:
    """Count one image as done; True when it was the batch's last one."""
    rows = await BackgroundRemovalBatch.raw(
        "UPDATE background_removal_batch SET processed_images = processed_images + 1, "
        "failed_images = failed_images + {} WHERE id = {} RETURNING processed_images, total_images",
        1 if failed else 0,
        batch_id,
    )
    return bool(rows) and rows[0]["processed_images"] >= rows[0]["total_images"]


async def finalize(batch_id: uuid.UUID, zip_key: str | None) -> BatchRow | None:
    """Set the final status (completed / partial / failed) once every image is done; None if already final."""
    rows = await BackgroundRemovalBatch.raw(
        "UPDATE background_removal_batch SET zip_key = {}, finished_at = now(), status = CASE "
        "WHEN failed_images = 0 THEN 'completed' WHEN failed_images >= total_images THEN 'failed' "
        "ELSE 'partial' END "
        f"WHERE id = {{}} AND status IN ({sql_list(UNFINISHED)}) AND processed_images >= total_images "
        "RETURNING " + _BATCH_COLUMNS,
        zip_key,
        batch_id,
    )
    return BatchRow.from_record(rows[0]) if rows else None


async def unfinished_complete_batches(limit: int = 100) -> list[uuid.UUID]:
    """Batches whose images are all done but whose ZIP was never built (a worker died in between)."""
    rows = await BackgroundRemovalBatch.raw(
        f"SELECT id FROM background_removal_batch WHERE status IN ({sql_list(UNFINISHED)}) "
        "AND processed_images >= total_images LIMIT {}",
        limit,
    )
    return [r["id"] for r in rows]


async def set_webhook_state(batch_id: uuid.UUID, status: str, attempts: int) -> None:
    await BackgroundRemovalBatch.raw(
        "UPDATE background_removal_batch SET webhook_status = {}, webhook_attempts = {} WHERE id = {}",
        status,
        attempts,
        batch_id,
    )
