"""Response bodies. camelCase on the wire, as the original front end expects."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec


class Camel(msgspec.Struct, rename="camel"):
    pass


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
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


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
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
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
