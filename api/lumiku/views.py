"""What the Lumiku clients read: envelopes (``{message, job}``, ``{batch}``, ``{zipUrl, zipSize}``, …) around
our own job and batch objects, with the original service's names for the same facts added
(``qualityTier`` for ``tier``, ``creditsUsed`` for ``creditsCharged``, ``processedImageUrl`` for
``links.download``, …). They are copies, never different facts, and only here: our own bodies and
webhooks carry our names. The routes the original clients share with ours (``GET /jobs``,
``GET /jobs/{id}``, ``GET /batches/{id}``; ``../shared/spec/compat.md``) answer these views.

The one translation of a value: the original UI knows ``pending, processing, completed, failed,
partial``. Its batch poller stops only on ``completed``, ``failed`` or ``partial``, and a job it shows
with an unknown status looks pending forever. Inside these envelopes a ``cancelled`` job or batch is
therefore ``failed`` (its ``errorMessage`` still says it was cancelled; cancelled work is refunded like
failed work). Our own fields outside the envelopes keep ``cancelled``.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from core.serialisers import BatchOut, Camel, JobOut
from core.statuses import BatchStatus, JobStatus


class LumikuJob(JobOut, kw_only=True):
    """Our job with the original service's names for its facts."""

    quality_tier: str
    credits_used: int
    processed_url: str | None
    processed_image_url: str | None
    original_size: int | None
    processing_time: int | None
    item_index: int | None
    completed_at: dt.datetime | None


class LumikuBatch(BatchOut, kw_only=True):
    """Our batch with the original service's names for its facts."""

    quality_tier: str
    completed_images: int
    total_credits_used: int
    total_credits: int
    original_price: int
    final_price: int
    discount_percentage: int
    progress_percentage: int
    zip_url: str | None
    completed_at: dt.datetime | None


def with_original_names(job: JobOut) -> LumikuJob:
    download = job.links.download
    return LumikuJob(
        **msgspec.structs.asdict(job),
        quality_tier=job.tier,
        credits_used=job.credits_charged,
        processed_url=download,
        processed_image_url=download,
        original_size=job.input_bytes,
        processing_time=job.processing_ms,
        item_index=job.position,
        completed_at=job.finished_at,
    )


def batch_with_original_names(batch: BatchOut) -> LumikuBatch:
    total = batch.total_images
    return LumikuBatch(
        **msgspec.structs.asdict(batch),
        quality_tier=batch.tier,
        completed_images=batch.succeeded_images,
        total_credits_used=batch.credits_charged,
        total_credits=batch.credits_charged,
        original_price=batch.credits_before_discount,
        final_price=batch.credits_charged,
        discount_percentage=batch.discount_percent,
        progress_percentage=batch.processed_images * 100 // total if total else 0,
        zip_url=batch.links.download,
        completed_at=batch.finished_at,
    )


def job_view(job: JobOut) -> LumikuJob:
    named = with_original_names(job)
    if job.status == JobStatus.CANCELLED:
        return msgspec.structs.replace(named, status=JobStatus.FAILED.value)
    return named


def batch_view(batch: BatchOut, *, images: bool = True) -> LumikuBatch:
    """``images=False`` drops the per-image list (the frontend reads only the counts)."""
    status = BatchStatus.FAILED.value if batch.status == BatchStatus.CANCELLED else batch.status
    named = batch_with_original_names(batch)
    return msgspec.structs.replace(named, status=status, images=batch.images if images else None)


class JobDetail(LumikuJob, kw_only=True):
    """``GET /jobs/{id}``: our job, and the same job under ``job`` for clients of the original backend."""

    job: LumikuJob


class BatchDetail(LumikuBatch, kw_only=True):
    """``GET /batches/{id}``: our batch, and the same batch (without ``images``) under ``batch`` for the
    original frontend, which polls this route every 5 seconds and reads ``data.batch``."""

    batch: LumikuBatch


def job_detail(job: JobOut) -> JobDetail:
    return JobDetail(**msgspec.structs.asdict(with_original_names(job)), job=job_view(job))


def batch_detail(batch: BatchOut) -> BatchDetail:
    named = batch_with_original_names(batch)
    return BatchDetail(**msgspec.structs.asdict(named), batch=batch_view(batch, images=False))


class JobList(Camel):
    """``GET /jobs``: a page of the caller's single jobs, each also under its original names."""

    jobs: list[LumikuJob]
    next_cursor: str | None
    limit: int


class JobEnvelope(Camel):
    message: str
    job: LumikuJob


class BatchEnvelope(Camel):
    message: str
    batch: LumikuBatch


class BatchWithJobs(LumikuBatch, kw_only=True):
    """The original backend's batch: the batch with every image as a full job, by ``itemIndex``."""

    jobs: list[LumikuJob]


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
