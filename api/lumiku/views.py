"""What the Lumiku clients read: envelopes (``{message, job}``, ``{batch}``, ``{zipUrl, zipSize}``, …) around
our own job and batch objects, which already carry the original field names (``core.serialisers``).

The one translation of a value: the original UI knows ``pending, processing, completed, failed,
partial``. Its batch poller stops only on ``completed``, ``failed`` or ``partial``, and a job it shows
with an unknown status looks pending forever. Inside these envelopes a ``cancelled`` job or batch is
therefore ``failed`` (its ``errorMessage`` still says it was cancelled; cancelled work is refunded like
failed work). Our own fields outside the envelopes keep ``cancelled``.
"""

from __future__ import annotations

import msgspec

from core.serialisers import BatchOut, Camel, JobOut
from core.statuses import BatchStatus, JobStatus


def job_view(job: JobOut) -> JobOut:
    if job.status == JobStatus.CANCELLED:
        return msgspec.structs.replace(job, status=JobStatus.FAILED.value)
    return job


def batch_view(batch: BatchOut, *, images: bool = True) -> BatchOut:
    """``images=False`` drops the per-image list (the frontend reads only the counts)."""
    status = BatchStatus.FAILED.value if batch.status == BatchStatus.CANCELLED else batch.status
    return msgspec.structs.replace(batch, status=status, images=batch.images if images else None)


class JobDetail(JobOut, kw_only=True):
    """``GET /jobs/{id}``: our job, and the same job under ``job`` for clients of the original backend."""

    job: JobOut


class BatchDetail(BatchOut, kw_only=True):
    """``GET /batches/{id}``: our batch, and the same batch (without ``images``) under ``batch`` for the
    original frontend, which polls this route every 5 seconds and reads ``data.batch``."""

    batch: BatchOut


def job_detail(job: JobOut) -> JobDetail:
    return JobDetail(**msgspec.structs.asdict(job), job=job_view(job))


def batch_detail(batch: BatchOut) -> BatchDetail:
    return BatchDetail(**msgspec.structs.asdict(batch), batch=batch_view(batch, images=False))


class JobEnvelope(Camel):
    message: str
    job: JobOut


class BatchEnvelope(Camel):
    message: str
    batch: BatchOut


class BatchWithJobs(BatchOut, kw_only=True):
    """The original backend's batch: the batch with every image as a full job, by ``itemIndex``."""

    jobs: list[JobOut]


class BatchWithJobsEnvelope(Camel):
    batch: BatchWithJobs


class ZipLink(Camel):
    zip_url: str
    """A signed link to the ZIP: works in ``<a href download>``, for ``SIGNED_URL_TTL_S``."""
    zip_size: int
    """Bytes."""


class PricingQuery(Camel):
    total_images: int
    tier: str


class PricingQuote(Camel):
    total_images: int
    tier: str
    credit_per_image: int
    original_price: int
    discount_percentage: int
    discount_amount: int
    final_price: int
    savings: int


class PricingQuoteEnvelope(Camel):
    pricing: PricingQuote
