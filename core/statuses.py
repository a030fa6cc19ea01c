"""Job and batch statuses, shared by the database layer, the API and the worker.

A job goes pending → processing → completed | failed, or pending → cancelled. A batch is pending until
its first image starts, processing until every image is final, then completed, partial (some images
failed), failed (none succeeded) or cancelled.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BatchStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


UNFINISHED: frozenset[str] = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})
"""Statuses of work that is still to be done, for jobs and batches alike."""

FINAL_JOB_STATUSES: frozenset[str] = frozenset(set(JobStatus) - UNFINISHED)
FINAL_BATCH_STATUSES: frozenset[str] = frozenset(set(BatchStatus) - UNFINISHED)

PROGRESS: dict[str, float] = {
    JobStatus.PENDING: 0.0,
    JobStatus.PROCESSING: 0.5,
    JobStatus.COMPLETED: 1.0,
    JobStatus.FAILED: 1.0,
    JobStatus.CANCELLED: 1.0,
}

WebhookKind = Literal["job", "batch"]


def sql_list(statuses: frozenset[str]) -> str:
    """``'pending', 'processing'`` for an SQL ``IN (...)``: the values are our own enum members, never input."""
    return ", ".join(f"'{s}'" for s in sorted(statuses))
