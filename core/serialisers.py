"""Job and batch bodies as clients see them, shared by the API's responses and the webhook payloads.

camelCase on the wire, as the original front end expects. Both the API and the worker's notifications
serialise through here, so a webhook carries what ``GET /jobs/{id}`` would answer (without the signed
``links.download``).

These bodies carry our names only. The original Lumiku service's names for the same facts
(``qualityTier``, ``creditsUsed``, ``processedImageUrl``, …) live in its adapter (:mod:`api.lumiku.views`),
which adds them where its clients read them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from core.rows import BatchImageRow, BatchRow, JobRow
from core.signed_urls import UrlSigner, batch_zip_path, job_result_path
from core.statuses import PROGRESS, JobStatus

API_PREFIX = "/api/background-remover"


class Camel(msgspec.Struct, rename="camel"):
    pass


class JobLinks(Camel):
    self: str
    result: str | None
    """The result with the bearer token, once completed."""
    download: str | None
    """The result without a token (``<img src>``, ``<a href download>``): signed, short-lived; null in
    webhooks, whose payloads are kept and logged far longer than a link should live."""


class JobOut(Camel):
    id: uuid.UUID
    batch_id: uuid.UUID | None
    tier: str
    status: str
    pricing_type: str
    original_filename: str
    input_width: int | None
    input_height: int | None
    input_bytes: int | None
    input_format: str | None
    output_options: dict[str, Any]
    credits_charged: int
    covered_by_subscription: bool
    error_code: str | None
    error_message: str | None
    attempts: int
    processing_ms: int | None
    progress: float
    webhook_url: str | None
    webhook_status: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    links: JobLinks
    position: int | None
    """The image's place in its batch (from 0); null for a single job."""


class BatchImage(Camel):
    job_id: uuid.UUID
    position: int
    filename: str
    status: str
    error_code: str | None
    error_message: str | None
    credits_charged: int
    processing_ms: int | None


class BatchLinks(Camel):
    self: str
    result: str | None
    """The ZIP with the bearer token, once it exists."""
    download: str | None
    """The ZIP without a token: signed and short-lived, like a job's ``links.download``."""


class BatchOut(Camel):
    id: uuid.UUID
    batch_id: str
    tier: str
    status: str
    total_images: int
    processed_images: int
    failed_images: int
    succeeded_images: int
    progress: float
    credits_before_discount: int
    credits_charged: int
    discount_percent: int
    output_options: dict[str, Any]
    webhook_url: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    links: BatchLinks
    name: str | None
    images: list[BatchImage] | None = None


def job_out(row: JobRow, signer: UrlSigner | None = None) -> JobOut:
    """``signer`` makes ``links.download``; without it (webhooks) the link is null."""
    completed = row.status is JobStatus.COMPLETED
    download = signer.sign(job_result_path(row.id)) if completed and signer else None
    return JobOut(
        id=row.id,
        batch_id=row.batch_id,
        tier=row.tier,
        status=row.status,
        pricing_type=row.pricing_type,
        original_filename=row.original_filename,
        input_width=row.input_width,
        input_height=row.input_height,
        input_bytes=row.input_bytes,
        input_format=row.input_format,
        output_options=row.output_options,
        credits_charged=row.credits_charged,
        covered_by_subscription=row.covered_by_subscription,
        error_code=row.error_code,
        error_message=row.error_message,
        attempts=row.attempts,
        processing_ms=row.processing_ms,
        progress=PROGRESS.get(row.status, 0.0),
        webhook_url=row.webhook_url,
        webhook_status=row.webhook_status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        links=JobLinks(
            self=f"{API_PREFIX}/jobs/{row.id}",
            result=f"{API_PREFIX}/jobs/{row.id}/result" if completed else None,
            download=download,
        ),
        position=row.position,
    )


def batch_out(row: BatchRow, images: list[BatchImageRow] | None = None, signer: UrlSigner | None = None) -> BatchOut:
    total = row.total_images
    processed = row.processed_images
    download = signer.sign(batch_zip_path(row.id)) if row.zip_key and signer else None
    return BatchOut(
        id=row.id,
        batch_id=row.public_id,
        tier=row.tier,
        status=row.status,
        total_images=total,
        processed_images=processed,
        failed_images=row.failed_images,
        succeeded_images=processed - row.failed_images,
        progress=round(processed / total, 4) if total else 0.0,
        credits_before_discount=row.credits_before_discount,
        credits_charged=row.credits_charged,
        discount_percent=row.discount_percent,
        output_options=row.output_options,
        webhook_url=row.webhook_url,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        links=BatchLinks(
            self=f"{API_PREFIX}/batches/{row.id}",
            result=f"{API_PREFIX}/batches/{row.id}/download" if row.zip_key else None,
            download=download,
        ),
        name=row.name,
        images=None
        if images is None
        else [
            BatchImage(
                job_id=i.id,
                position=i.position,
                filename=i.original_filename,
                status=i.status,
                error_code=i.error_code,
                error_message=i.error_message,
                credits_charged=i.credits_charged,
                processing_ms=i.processing_ms,
            )
            for i in images
        ],
    )
