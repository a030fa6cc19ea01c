"""Typed, immutable views of the API's camelCase JSON bodies.

Each class has ``from_api(body)`` and keeps the original dict in ``raw`` for fields a newer server adds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "BATCH_FINAL_STATUSES",
    "JOB_FINAL_STATUSES",
    "ApiKey",
    "Balance",
    "Batch",
    "BatchImage",
    "Job",
    "Limits",
    "Page",
    "Plan",
    "Pricing",
    "Readiness",
    "Stats",
    "Subscription",
    "TierPrice",
    "VolumeDiscount",
]

JOB_FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
"""A job in one of these states will not change any more."""
BATCH_FINAL_STATUSES = frozenset({"completed", "partial", "failed", "cancelled"})
"""A batch in one of these states will not change any more."""


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object, default: int = 0) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _int_dict(value: object) -> dict[str, int]:
    return {str(k): _int(v) for k, v in _dict(value).items()}


@dataclass(frozen=True)
class Job:
    """One background removal. ``etag`` is the ETag of the response it came from (for conditional polling)."""

    id: str
    status: str
    tier: str
    original_filename: str
    batch_id: str | None
    pricing_type: str
    credits_charged: int
    covered_by_subscription: bool
    progress: float
    attempts: int
    output_options: dict[str, Any]
    input_width: int | None
    input_height: int | None
    input_bytes: int | None
    input_format: str | None
    error_code: str | None
    error_message: str | None
    processing_ms: int | None
    webhook_url: str | None
    webhook_status: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str
    """Path of ``GET /jobs/{id}``."""
    result_url: str | None
    """Path of the result image, once the job completed."""
    etag: str | None = field(default=None, compare=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_final(self) -> bool:
        """True once the job is completed, failed or cancelled."""
        return self.status in JOB_FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_api(cls, body: Mapping[str, Any], *, etag: str | None = None) -> Job:
        links = _dict(body.get("links"))
        job_id = str(body["id"])
        return cls(
            id=job_id,
            status=str(body.get("status", "")),
            tier=str(body.get("tier", "")),
            original_filename=str(body.get("originalFilename", "")),
            batch_id=_str(body.get("batchId")),
            pricing_type=str(body.get("pricingType", "")),
            credits_charged=_int(body.get("creditsCharged")),
            covered_by_subscription=bool(body.get("coveredBySubscription", False)),
            progress=float(body.get("progress") or 0.0),
            attempts=_int(body.get("attempts")),
            output_options=_dict(body.get("outputOptions")),
            input_width=_opt_int(body.get("inputWidth")),
            input_height=_opt_int(body.get("inputHeight")),
            input_bytes=_opt_int(body.get("inputBytes")),
            input_format=_str(body.get("inputFormat")),
            error_code=_str(body.get("errorCode")),
            error_message=_str(body.get("errorMessage")),
            processing_ms=_opt_int(body.get("processingMs")),
            webhook_url=_str(body.get("webhookUrl")),
            webhook_status=_str(body.get("webhookStatus")),
            created_at=_time(body.get("createdAt")),
            updated_at=_time(body.get("updatedAt")),
            started_at=_time(body.get("startedAt")),
            finished_at=_time(body.get("finishedAt")),
            url=_str(links.get("self")) or f"/jobs/{job_id}",
            result_url=_str(links.get("result")),
            etag=etag,
            raw=dict(body),
        )


@dataclass(frozen=True)
class BatchImage:
    """One image of a batch: its position in the upload, its status and, if it failed, why."""

    job_id: str
    position: int
    filename: str
    status: str
    error_code: str | None
    error_message: str | None
    credits_charged: int
    processing_ms: int | None

    @property
    def is_final(self) -> bool:
        return self.status in JOB_FINAL_STATUSES

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> BatchImage:
        return cls(
            job_id=str(body.get("jobId", "")),
            position=_int(body.get("position")),
            filename=str(body.get("filename", "")),
            status=str(body.get("status", "")),
            error_code=_str(body.get("errorCode")),
            error_message=_str(body.get("errorMessage")),
            credits_charged=_int(body.get("creditsCharged")),
            processing_ms=_opt_int(body.get("processingMs")),
        )


@dataclass(frozen=True)
class Batch:
    """A batch of 2–500 images. ``images`` is filled by ``GET /batches/{id}`` (not by listings)."""

    id: str
    batch_id: str
    """The public id (``b_…``); the API accepts either."""
    status: str
    tier: str
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
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str
    download_url: str | None
    """Path of the ZIP, once the batch finished with at least one succeeded image."""
    images: tuple[BatchImage, ...] | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_final(self) -> bool:
        """True once the batch is completed, partial, failed or cancelled."""
        return self.status in BATCH_FINAL_STATUSES

    @property
    def failed(self) -> tuple[BatchImage, ...]:
        """The images that failed (empty when ``images`` is not known)."""
        return tuple(i for i in self.images or () if i.status == "failed")

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Batch:
        links = _dict(body.get("links"))
        batch_id = str(body["id"])
        images = body.get("images")
        return cls(
            id=batch_id,
            batch_id=str(body.get("batchId", batch_id)),
            status=str(body.get("status", "")),
            tier=str(body.get("tier", "")),
            total_images=_int(body.get("totalImages")),
            processed_images=_int(body.get("processedImages")),
            failed_images=_int(body.get("failedImages")),
            succeeded_images=_int(body.get("succeededImages")),
            progress=float(body.get("progress") or 0.0),
            credits_before_discount=_int(body.get("creditsBeforeDiscount")),
            credits_charged=_int(body.get("creditsCharged")),
            discount_percent=_int(body.get("discountPercent")),
            output_options=_dict(body.get("outputOptions")),
            webhook_url=_str(body.get("webhookUrl")),
            created_at=_time(body.get("createdAt")),
            started_at=_time(body.get("startedAt")),
            finished_at=_time(body.get("finishedAt")),
            url=_str(links.get("self")) or f"/batches/{batch_id}",
            download_url=_str(links.get("download")),
            images=None
            if not isinstance(images, list)
            else tuple(BatchImage.from_api(i) for i in images if isinstance(i, Mapping)),
            raw=dict(body),
        )


@dataclass(frozen=True)
class TierPrice:
    """Credits per image of a tier and whether its model is installed right now."""

    tier: str
    credits: int
    available: bool
    description: str
    model: str
    model_licence: str


@dataclass(frozen=True)
class VolumeDiscount:
    """Batches of ``min_images``–``max_images`` images get ``percent`` off."""

    min_images: int
    max_images: int
    percent: int


@dataclass(frozen=True)
class Plan:
    """A subscription plan; ``daily_quotas`` are single images per tier per UTC day."""

    plan: str
    price: int
    """Per period, in ``currency`` (rupiah)."""
    currency: str
    credits: int
    """What a period costs from the credit balance when subscribing or renewing."""
    period_days: int
    daily_quotas: dict[str, int]


@dataclass(frozen=True)
class Limits:
    """Upload limits of the deployment."""

    max_image_bytes: int
    max_megapixels: float
    min_side: int
    batch_min_images: int
    batch_max_images: int
    input_formats: tuple[str, ...]
    output_formats: tuple[str, ...]


@dataclass(frozen=True)
class Pricing:
    """``GET /pricing``: tiers, volume discounts, plans and limits."""

    tiers: tuple[TierPrice, ...]
    volume_discounts: tuple[VolumeDiscount, ...]
    plans: tuple[Plan, ...]
    limits: Limits

    def tier(self, name: str) -> TierPrice | None:
        """The tier called ``name``, or None."""
        return next((t for t in self.tiers if t.tier == name), None)

    def discount_percent(self, images: int) -> int:
        """The volume discount for a batch of ``images`` (0 for a single image)."""
        return next((d.percent for d in self.volume_discounts if d.min_images <= images <= d.max_images), 0)

    def estimate(self, tier: str, images: int) -> int | None:
        """What ``images`` images of ``tier`` cost in credits (rounded down like the server), or None."""
        spec = self.tier(tier)
        if spec is None:
            return None
        before = spec.credits * images
        percent = self.discount_percent(images) if images > 1 else 0
        return before * (100 - percent) // 100

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Pricing:
        limits = _dict(body.get("limits"))
        return cls(
            tiers=tuple(
                TierPrice(
                    tier=str(t.get("tier", "")),
                    credits=_int(t.get("credits")),
                    available=bool(t.get("available", False)),
                    description=str(t.get("description", "")),
                    model=str(t.get("model", "")),
                    model_licence=str(t.get("modelLicence", "")),
                )
                for t in body.get("tiers") or []
                if isinstance(t, Mapping)
            ),
            volume_discounts=tuple(
                VolumeDiscount(
                    min_images=_int(d.get("minImages")),
                    max_images=_int(d.get("maxImages")),
                    percent=_int(d.get("percent")),
                )
                for d in body.get("volumeDiscounts") or []
                if isinstance(d, Mapping)
            ),
            plans=tuple(
                Plan(
                    plan=str(p.get("plan", "")),
                    price=_int(p.get("price")),
                    currency=str(p.get("currency", "")),
                    credits=_int(p.get("credits")),
                    period_days=_int(p.get("periodDays")),
                    daily_quotas=_int_dict(p.get("dailyQuotas")),
                )
                for p in body.get("plans") or []
                if isinstance(p, Mapping)
            ),
            limits=Limits(
                max_image_bytes=_int(limits.get("maxImageBytes")),
                max_megapixels=float(limits.get("maxMegapixels") or 0.0),
                min_side=_int(limits.get("minSide")),
                batch_min_images=_int(limits.get("batchMinImages"), 2),
                batch_max_images=_int(limits.get("batchMaxImages"), 500),
                input_formats=tuple(str(f) for f in limits.get("inputFormats") or ()),
                output_formats=tuple(str(f) for f in limits.get("outputFormats") or ()),
            ),
        )


@dataclass(frozen=True)
class Balance:
    """``GET /credits/balance``."""

    balance: int
    user_id: str

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Balance:
        return cls(balance=_int(body.get("balance")), user_id=str(body.get("userId", "")))


@dataclass(frozen=True)
class ApiKey:
    """One of the caller's API keys (``GET /api-keys``); ``key`` is set only in the answer that created it."""

    id: str
    prefix: str
    name: str
    created_at: dt.datetime | None
    last_used_at: dt.datetime | None
    key: str | None = None
    scope: str = "basic"
    """``basic`` (jobs, batches, account) or ``manage`` (also the webhook secret and the other keys)."""

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> ApiKey:
        return cls(
            id=str(body.get("id", "")),
            prefix=str(body.get("prefix", "")),
            name=str(body.get("name", "")),
            created_at=_time(body.get("createdAt")),
            last_used_at=_time(body.get("lastUsedAt")),
            key=_str(body.get("key")),
            scope=str(body.get("scope") or "basic"),
        )


@dataclass(frozen=True)
class Subscription:
    """A subscription; ``active`` is False once cancelled or expired."""

    id: str
    plan: str
    status: str
    active: bool
    started_at: dt.datetime | None
    expires_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    daily_quotas: dict[str, int]
    usage_today: dict[str, int]
    payment_id: str | None = None
    """The external payment an admin recorded for the current period; None when paid in credits."""

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Subscription:
        return cls(
            id=str(body.get("id", "")),
            plan=str(body.get("plan", "")),
            status=str(body.get("status", "")),
            active=bool(body.get("active", False)),
            started_at=_time(body.get("startedAt")),
            expires_at=_time(body.get("expiresAt")),
            cancelled_at=_time(body.get("cancelledAt")),
            daily_quotas=_int_dict(body.get("dailyQuotas")),
            usage_today=_int_dict(body.get("usageToday")),
            payment_id=str(body["paymentId"]) if body.get("paymentId") is not None else None,
        )


@dataclass(frozen=True)
class Stats:
    """``GET /stats``: the caller's usage."""

    total_single_removals: int
    total_batches: int
    has_subscription: bool
    plan: str | None
    credits_used: int
    completed_by_tier: dict[str, int]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Stats:
        stats = _dict(body.get("stats", body))
        return cls(
            total_single_removals=_int(stats.get("totalSingleRemovals")),
            total_batches=_int(stats.get("totalBatches")),
            has_subscription=bool(stats.get("hasSubscription", False)),
            plan=_str(stats.get("plan")),
            credits_used=_int(stats.get("creditsUsed")),
            completed_by_tier=_int_dict(stats.get("completedByTier")),
        )


@dataclass(frozen=True)
class Readiness:
    """``GET /health/ready``, whether it answered 200 or 503: ``ready`` and what each check says."""

    ready: bool
    status: str
    checks: dict[str, tuple[bool, str]]
    """check name → (ok, detail)."""
    pending_migrations: tuple[str, ...]
    workers: int
    detail: str

    @classmethod
    def from_api(cls, body: Mapping[str, Any], *, http_status: int) -> Readiness:
        checks = {
            str(name): (bool(_dict(c).get("ok", False)), str(_dict(c).get("detail", "")))
            for name, c in _dict(body.get("checks")).items()
        }
        return cls(
            ready=http_status == 200,
            status=str(body.get("status") or ("ready" if http_status == 200 else "not_ready")),
            checks=checks,
            pending_migrations=tuple(str(m) for m in body.get("pendingMigrations") or ()),
            workers=_int(body.get("workers")),
            detail=str(body.get("detail") or ""),
        )


ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page of a listing; pass ``next_cursor`` back to get the next (None on the last page)."""

    items: tuple[ItemT, ...]
    next_cursor: str | None
    limit: int
