"""Response bodies. camelCase on the wire, as the original front end expects."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

API_PREFIX = "/api/background-remover"
_PROGRESS = {"pending": 0.0, "processing": 0.5, "completed": 1.0, "failed": 1.0, "cancelled": 1.0}


class Camel(msgspec.Struct, rename="camel"):
    pass


class JobLinks(Camel):
    self: str
    result: str | None


class SubscriptionOut(Camel):
    id: uuid.UUID
    plan: str
    status: str
    started_at: dt.datetime
    expires_at: dt.datetime
    cancelled_at: dt.datetime | None
    daily_quotas: dict[str, int]
    usage_today: dict[str, int]
    active: bool


class SubscriptionEnvelope(Camel):
    subscription: SubscriptionOut | None


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


class JobList(Camel):
    jobs: list[JobOut]
    next_cursor: str | None
    limit: int


class Stats(Camel):
    total_single_removals: int
    total_batches: int
    has_subscription: bool
    plan: str | None
    credits_used: int
    completed_by_tier: dict[str, int]


class StatsEnvelope(Camel):
    stats: Stats


class Balance(Camel):
    balance: int
    user_id: str


class Liveness(Camel):
    status: str


class ReadinessCheck(Camel):
    ok: bool
    detail: str


class Readiness(Camel):
    status: str
    checks: dict[str, ReadinessCheck]
    pending_migrations: list[str]
    missing_tables: list[str]
    workers: int
    tiers: dict[str, bool]


def job_out(row: dict[str, Any]) -> JobOut:
    return JobOut(
        id=row["id"],
        batch_id=row["batch_id"],
        tier=row["tier"],
        status=row["status"],
        pricing_type=row["pricing_type"],
        original_filename=row["original_filename"],
        input_width=row["input_width"],
        input_height=row["input_height"],
        input_bytes=row["input_bytes"],
        input_format=row["input_format"],
        output_options=_json(row["output_options"]),
        credits_charged=row["credits_charged"],
        covered_by_subscription=row["covered_by_subscription"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        attempts=row["attempts"],
        processing_ms=row["processing_ms"],
        progress=_PROGRESS.get(row["status"], 0.0),
        webhook_url=row.get("webhook_url"),
        webhook_status=row.get("webhook_status"),
        created_at=row["created_at"],
        updated_at=row.get("updated_at"),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        links=JobLinks(
            self=f"{API_PREFIX}/jobs/{row['id']}",
            result=f"{API_PREFIX}/jobs/{row['id']}/result" if row["status"] == "completed" else None,
        ),
    )


def _json(value: Any) -> dict[str, Any]:
    """Piccolo returns JSONB as text unless asked otherwise."""
    if isinstance(value, str):
        decoded = msgspec.json.decode(value or "{}")
        return decoded if isinstance(decoded, dict) else {}
    return dict(value or {})


def subscription_out(row: dict[str, Any], *, active: bool) -> SubscriptionOut:
    return SubscriptionOut(
        id=row["id"],
        plan=row["plan"],
        status=row["status"],
        started_at=row["started_at"],
        expires_at=row["expires_at"],
        cancelled_at=row["cancelled_at"],
        daily_quotas={k: int(v) for k, v in _json(row["daily_quotas"]).items()},
        usage_today=row.get("usage_today", {}),
        active=active,
    )


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
    download: str | None


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
    images: list[BatchImage] | None = None


class BatchList(Camel):
    batches: list[BatchOut]
    next_cursor: str | None
    limit: int


def batch_out(row: dict[str, Any], images: list[dict[str, Any]] | None = None) -> BatchOut:
    total = row["total_images"] or 0
    processed = row["processed_images"] or 0
    return BatchOut(
        id=row["id"],
        batch_id=row["public_id"],
        tier=row["tier"],
        status=row["status"],
        total_images=total,
        processed_images=processed,
        failed_images=row["failed_images"],
        succeeded_images=processed - row["failed_images"],
        progress=round(processed / total, 4) if total else 0.0,
        credits_before_discount=row["credits_before_discount"],
        credits_charged=row["credits_charged"],
        discount_percent=row["discount_percent"],
        output_options=_json(row["output_options"]),
        webhook_url=row.get("webhook_url"),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        links=BatchLinks(
            self=f"{API_PREFIX}/batches/{row['id']}",
            download=f"{API_PREFIX}/batches/{row['id']}/download" if row.get("zip_key") else None,
        ),
        images=None
        if images is None
        else [
            BatchImage(
                job_id=i["id"],
                position=i["position"],
                filename=i["original_filename"],
                status=i["status"],
                error_code=i["error_code"],
                error_message=i["error_message"],
                credits_charged=i["credits_charged"],
                processing_ms=i["processing_ms"],
            )
            for i in images
        ],
    )


class TierPrice(Camel):
    tier: str
    credits: int
    available: bool
    description: str
    model: str
    model_licence: str


class VolumeDiscount(Camel):
    min_images: int
    max_images: int
    percent: int


class PlanOut(Camel):
    plan: str
    price: int
    currency: str
    period_days: int
    daily_quotas: dict[str, int]


class Limits(Camel):
    max_image_bytes: int
    max_megapixels: float
    min_side: int
    batch_min_images: int
    batch_max_images: int
    input_formats: list[str]
    output_formats: list[str]


class Pricing(Camel):
    tiers: list[TierPrice]
    volume_discounts: list[VolumeDiscount]
    plans: list[PlanOut]
    limits: Limits


class SubscribeIn(msgspec.Struct):
    plan: str


class GrantIn(Camel):
    user_id: str
    credits: int
    reason: str = "manual grant"
    grant_id: str | None = None


class GrantOut(Camel):
    user_id: str
    credits: int
    granted: bool
    balance: int
