"""Cancelling a job no worker has started: final, refunded in full (credits or quota), upload deleted."""

from __future__ import annotations

import uuid

from core.rows import JobRow
from core.statuses import JobStatus
from core.storage import Storage
from db import billing, jobs
from db.piccolo_conf import DB


async def cancel_pending_job(
    job_id: uuid.UUID, user_id: str, storage: Storage, *, reason: str = "Cancelled by the client."
) -> JobRow | None:
    """The cancelled row, or None when the job is not pending (a worker has it, or it is final)."""
    async with DB.transaction():
        row = await jobs.transition_to_final(
            job_id,
            JobStatus.CANCELLED,
            from_statuses=frozenset({JobStatus.PENDING}),
            error_code="cancelled",
            error_message=reason,
            user_id=user_id,
        )
        if row is not None:
            await billing.release_job(row, reason="job cancelled")
    if row is not None and row.input_key:
        # Refunded in full, so the upload must not stay: else cancel-and-resubmit stores for free.
        await storage.delete(row.input_key)
        await jobs.forget_input(row.id)
    return row
