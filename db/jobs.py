"""Jobs: creating them, their state transitions (claim, final), listing with keyset pagination, and
the queries the sweeps use."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidOptions
from core.rows import ExpiredFiles, JobRow
from core.statuses import FINAL_BATCH_STATUSES, FINAL_JOB_STATUSES, UNFINISHED, JobStatus, WebhookKind, sql_list
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


async def list_single_jobs(user_id: str, *, limit: int, cursor: str | None) -> tuple[list[JobRow], str | None]:
    """One page of the user's single jobs (not batch images) and the cursor of the next page."""
    job = BackgroundRemovalJob
    where = (job.user_id == user_id) & job.batch_id.is_null()
    if cursor:
        created_at, job_id = decode_cursor(cursor)
        where &= (job.created_at < created_at) | ((job.created_at == created_at) & (job.id < job_id))
    records = await job.select().where(where).order_by(job.created_at, job.id, ascending=False).limit(limit + 1)
    rows = [JobRow.from_record(r) for r in records[:limit]]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if len(records) > limit else None
    return rows, next_cursor


async def count_single_jobs(user_id: str) -> int:
    job = BackgroundRemovalJob
    return int(await job.count().where((job.user_id == user_id) & job.batch_id.is_null()))


async def count_jobs(user_id: str) -> int:
    """Every image the user submitted, single or in a batch."""
    return int(await BackgroundRemovalJob.count().where(BackgroundRemovalJob.user_id == user_id))


async def completed_counts_by_tier(user_id: str) -> dict[str, int]:
    rows = await BackgroundRemovalJob.raw(
        "SELECT tier, count(*)::int AS n FROM background_removal_job "
        "WHERE user_id = {} AND status = 'completed' GROUP BY tier",
        user_id,
    )
    return {r["tier"]: r["n"] for r in rows}


JOB_COLUMNS = (
    "id, user_id, batch_id, position, tier, status, pricing_type, original_filename, input_key, output_key, "
    "input_width, input_height, input_bytes, input_format, output_options, credits_charged, "
    "covered_by_subscription, usage_date, webhook_url, webhook_status, error_code, error_message, attempts, "
    "processing_ms, foreground_left, foreground_top, foreground_width, foreground_height, "
    "created_at, updated_at, started_at, finished_at"
)


_NEW_JOB_COLUMNS = (
    "id, user_id, batch_id, position, tier, status, pricing_type, original_filename, input_key, input_width, "
    "input_height, input_bytes, input_format, output_options, credits_charged, covered_by_subscription, usage_date, "
    "webhook_url, created_at, updated_at"
)
NEW_SINGLE_JOB_SQL = (
    "INSERT INTO background_removal_job (" + _NEW_JOB_COLUMNS + ") "
    "SELECT {}, {}, NULL, NULL, {}, 'pending', {}, {}, {}, {}, {}, {}, {}, {}::jsonb, {}, {}, {}, {}, "
    "clock_timestamp(), clock_timestamp()"
)
"""The ``INSERT … SELECT`` of one single job (no ``FROM``: a caller appends the one that admits it), in the
order of :func:`single_job_args`."""


@dataclass(frozen=True, slots=True)
class NewImage:
    """One stored upload as a new job row records it."""

    job_id: uuid.UUID
    original_filename: str
    input_key: str
    width: int
    height: int
    bytes: int
    format: str


def single_job_args(
    image: NewImage,
    *,
    user_id: str,
    tier: str,
    output_options: dict[str, str],
    pricing_type: str,
    credits_charged: int,
    usage_date: dt.date | None,
    webhook_url: str | None,
) -> tuple[Any, ...]:
    return (
        image.job_id,
        user_id,
        tier,
        pricing_type,
        image.original_filename,
        image.input_key,
        image.width,
        image.height,
        image.bytes,
        image.format,
        json.dumps(output_options),
        credits_charged,
        pricing_type == "subscription",
        usage_date,
        webhook_url,
    )


async def insert_batch_jobs(
    batch_id: uuid.UUID,
    *,
    user_id: str,
    tier: str,
    output_options: dict[str, str],
    images: list[NewImage],
    credits: list[int],
) -> None:
    """A batch's jobs in one statement, at positions 0, 1, …, paid in credits (``credits[i]`` for image i)."""
    await BackgroundRemovalJob.raw(
        "INSERT INTO background_removal_job (" + _NEW_JOB_COLUMNS + ") "
        "SELECT i.id, {}, {}, i.ord - 1, {}, 'pending', 'credit', i.name, i.key, i.width, i.height, i.bytes, "
        "i.format, {}::jsonb, i.credits, false, NULL, NULL, clock_timestamp(), clock_timestamp() "
        "FROM unnest({}::uuid[], {}::text[], {}::text[], {}::int[], {}::int[], {}::bigint[], {}::text[], {}::int[]) "
        "WITH ORDINALITY AS i(id, name, key, width, height, bytes, format, credits, ord)",
        user_id,
        batch_id,
        tier,
        json.dumps(output_options),
        [i.job_id for i in images],
        [i.original_filename for i in images],
        [i.input_key for i in images],
        [i.width for i in images],
        [i.height for i in images],
        [i.bytes for i in images],
        [i.format for i in images],
        credits,
    )


async def get_job(job_id: uuid.UUID, user_id: str | None = None) -> JobRow | None:
    """A job by id; with ``user_id``, only that user's (another user's job is simply not found)."""
    if user_id is None:
        rows = await BackgroundRemovalJob.raw(
            "SELECT " + JOB_COLUMNS + " FROM background_removal_job WHERE id = {}", job_id
        )
    else:
        rows = await BackgroundRemovalJob.raw(
            "SELECT " + JOB_COLUMNS + " FROM background_removal_job WHERE id = {} AND user_id = {}",
            job_id,
            user_id,
        )
    return JobRow.from_record(rows[0]) if rows else None


async def batch_jobs(batch_id: uuid.UUID) -> list[JobRow]:
    """Every image of a batch as a full job row, by position (the original backend's ``batch.jobs``)."""
    rows = await BackgroundRemovalJob.raw(
        "SELECT " + JOB_COLUMNS + " FROM background_removal_job WHERE batch_id = {} ORDER BY position", batch_id
    )
    return [JobRow.from_record(r) for r in rows]


async def claim_for_processing(job_id: uuid.UUID, worker_id: str) -> JobRow | None:
    """Mark the job processing by ``worker_id`` (again, after a crash) and count the attempt; None when final."""
    rows = await BackgroundRemovalJob.raw(
        "UPDATE background_removal_job SET status = 'processing', attempts = attempts + 1, worker_id = {}, "
        "started_at = COALESCE(started_at, now()), updated_at = clock_timestamp() "
        f"WHERE id = {{}} AND status IN ({sql_list(UNFINISHED)}) RETURNING " + JOB_COLUMNS,
        worker_id,
        job_id,
    )
    return JobRow.from_record(rows[0]) if rows else None


async def transition_to_final(
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    from_statuses: frozenset[str] = UNFINISHED,
    output_key: str | None = None,
    processing_ms: int | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    user_id: str | None = None,
    foreground: tuple[int, int, int, int] | None = None,
) -> JobRow | None:
    """Move a job to a final state exactly once; None when it was not in ``from_statuses``.

    ``foreground`` is the subject's (left, top, width, height) in the result. Whatever goes with the
    transition (refund, batch counters) must run only when this returns a row.
    """
    allowed = sql_list(from_statuses)
    user_clause = " AND user_id = {}" if user_id is not None else ""
    box: tuple[int | None, ...] = foreground or (None, None, None, None)
    args: list[Any] = [status, output_key, processing_ms, *box, error_code, error_message, job_id]
    if user_id is not None:
        args.append(user_id)
    rows = await BackgroundRemovalJob.raw(
        "UPDATE background_removal_job SET status = {}, output_key = COALESCE({}, output_key), "
        "processing_ms = COALESCE({}, processing_ms), foreground_left = {}, foreground_top = {}, "
        "foreground_width = {}, foreground_height = {}, error_code = {}, error_message = {}, "
        "finished_at = now(), updated_at = clock_timestamp() "
        f"WHERE id = {{}} AND status IN ({allowed}){user_clause} RETURNING " + JOB_COLUMNS,
        *args,
    )
    return JobRow.from_record(rows[0]) if rows else None


async def set_webhook_state(job_id: uuid.UUID, status: str, attempts: int) -> None:
    await BackgroundRemovalJob.raw(
        "UPDATE background_removal_job SET webhook_status = {}, webhook_attempts = {} WHERE id = {}",
        status,
        attempts,
        job_id,
    )


async def jobs_to_requeue(older_than_s: int, limit: int = 1000) -> list[uuid.UUID]:
    rows = await BackgroundRemovalJob.raw(
        "SELECT id FROM background_removal_job WHERE status = 'pending' "
        "AND created_at < now() - make_interval(secs => {}) ORDER BY created_at LIMIT {}",
        older_than_s,
        limit,
    )
    return [r["id"] for r in rows]


async def orphaned_jobs(live_workers: list[str], older_than_s: int, limit: int = 1000) -> list[tuple[uuid.UUID, int]]:
    """(id, attempts) of jobs ``processing`` on a worker that no longer sends heartbeats."""
    rows = await BackgroundRemovalJob.raw(
        "SELECT id, attempts FROM background_removal_job WHERE status = 'processing' "
        "AND updated_at < now() - make_interval(secs => {}) "
        "AND (worker_id IS NULL OR NOT (worker_id = ANY({}::text[]))) ORDER BY updated_at LIMIT {}",
        older_than_s,
        live_workers,
        limit,
    )
    return [(r["id"], int(r["attempts"])) for r in rows]


async def processing_jobs(older_than_s: int, limit: int = 1000) -> list[tuple[uuid.UUID, int]]:
    """(id, attempts) of jobs ``processing`` without progress for ``older_than_s``."""
    rows = await BackgroundRemovalJob.raw(
        "SELECT id, attempts FROM background_removal_job WHERE status = 'processing' "
        "AND updated_at < now() - make_interval(secs => {}) ORDER BY updated_at LIMIT {}",
        older_than_s,
        limit,
    )
    return [(r["id"], int(r["attempts"])) for r in rows]


async def expired_files(retention_days: int, limit: int = 5000) -> list[ExpiredFiles]:
    rows = await BackgroundRemovalJob.raw(
        "SELECT id, input_key, output_key FROM background_removal_job "
        "WHERE finished_at < now() - make_interval(days => {}) "
        "AND (input_key IS NOT NULL OR output_key IS NOT NULL) LIMIT {}",
        retention_days,
        limit,
    )
    return [ExpiredFiles.from_record(r) for r in rows]


async def forget_files(job_ids: list[uuid.UUID]) -> None:
    await BackgroundRemovalJob.raw(
        "UPDATE background_removal_job SET input_key = NULL, output_key = NULL WHERE id = ANY({}::uuid[])", job_ids
    )


async def forget_input(job_id: uuid.UUID) -> None:
    await BackgroundRemovalJob.raw("UPDATE background_removal_job SET input_key = NULL WHERE id = {}", job_id)


async def count_unfinished(user_id: str) -> int:
    return (await unfinished_totals(user_id)).images


@dataclass(frozen=True, slots=True)
class UnfinishedTotals:
    images: int
    """The user's jobs pending or processing."""
    pending_bytes: int
    """Bytes of the user's stored uploads that are not processed yet (what a cancel or the worker frees)."""


UNFINISHED_TOTALS_SQL = (
    "SELECT count(*)::int AS n, COALESCE(SUM(input_bytes) FILTER (WHERE input_key IS NOT NULL), 0)::bigint "
    f"AS bytes FROM background_removal_job WHERE user_id = {{}} AND status IN ({sql_list(UNFINISHED)})"
)


async def unfinished_totals(user_id: str) -> UnfinishedTotals:
    """Both of a user's bounds in one statement: accepting a batch checks them under the user's lock."""
    rows = await BackgroundRemovalJob.raw(UNFINISHED_TOTALS_SQL, user_id)
    return UnfinishedTotals(images=int(rows[0]["n"]), pending_bytes=int(rows[0]["bytes"]))


PENDING_INPUT_BYTES_SQL = (
    "SELECT COALESCE(SUM(input_bytes), 0)::bigint FROM background_removal_job "
    f"WHERE user_id = {{}} AND status IN ({sql_list(UNFINISHED)}) AND input_key IS NOT NULL"
)
"""One user's (``{}``) stored uploads that are not processed yet, in bytes (what a cancel or the worker frees)."""


async def pending_input_bytes(user_id: str) -> int:
    """Bytes of the user's stored uploads that are not processed yet (what a cancel or the worker frees)."""
    rows = await BackgroundRemovalJob.raw(f"SELECT ({PENDING_INPUT_BYTES_SQL}) AS n", user_id)
    return int(rows[0]["n"])


async def unsent_webhooks(older_than_s: int, limit: int = 500) -> list[tuple[WebhookKind, uuid.UUID]]:
    """("job" | "batch", id) of finished work with a webhook that was never attempted.

    Cancelled work is left out: its webhook is never sent (the client cancelled it themselves).
    """
    rows = await BackgroundRemovalJob.raw(
        "SELECT 'job' AS kind, id FROM background_removal_job WHERE batch_id IS NULL "
        f"AND status IN ({sql_list(FINAL_JOB_STATUSES - {'cancelled'})}) AND webhook_url IS NOT NULL "
        "AND webhook_status IS NULL AND finished_at < now() - make_interval(secs => {}) "
        "UNION ALL SELECT 'batch' AS kind, id FROM background_removal_batch "
        f"WHERE status IN ({sql_list(FINAL_BATCH_STATUSES - {'cancelled'})}) AND webhook_url IS NOT NULL "
        "AND webhook_status IS NULL AND finished_at < now() - make_interval(secs => {}) LIMIT {}",
        older_than_s,
        older_than_s,
        limit,
    )
    return [(r["kind"], r["id"]) for r in rows]
