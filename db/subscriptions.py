"""A user's subscription row: reading it, today's usage, and writing a paid period or a cancellation.

Nothing here moves money: :mod:`db.subscription_periods` charges a period and calls
:func:`store_period` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from db.tables import BackgroundRemoverSubscription, BackgroundRemoverSubscriptionUsage

_COLUMNS = "id, user_id, plan, status, started_at, expires_at, cancelled_at, daily_quotas, payment_id"


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """A user's subscription as read (attributes, like ``core.rows.JobRow``)."""

    id: uuid.UUID
    user_id: str
    plan: str
    status: str
    started_at: dt.datetime
    expires_at: dt.datetime
    cancelled_at: dt.datetime | None
    daily_quotas: dict[str, int]
    payment_id: str | None
    usage_today: dict[str, int]
    """Images covered today (UTC) per tier."""


@dataclass(frozen=True)
class Period:
    """What one paid period makes of the row: the subscription's start and the new end."""

    started_at: dt.datetime
    """When the subscription began; kept when an active one is extended."""
    starts_at: dt.datetime
    """When the paid period begins: the old expiry when extending, else now."""
    expires_at: dt.datetime


def today() -> dt.date:
    """Quotas are daily in UTC, whatever the server's local time zone."""
    return dt.datetime.now(dt.UTC).date()


def _quotas(raw: Any) -> dict[str, int]:
    value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return {str(k): int(v) for k, v in dict(value or {}).items()}


def _row(raw: dict[str, Any], usage_today: dict[str, int]) -> SubscriptionRow:
    return SubscriptionRow(
        id=raw["id"],
        user_id=raw["user_id"],
        plan=raw["plan"],
        status=raw["status"],
        started_at=raw["started_at"],
        expires_at=raw["expires_at"],
        cancelled_at=raw["cancelled_at"],
        daily_quotas=_quotas(raw["daily_quotas"]),
        payment_id=raw["payment_id"],
        usage_today=usage_today,
    )


async def _usage_today(subscription_id: uuid.UUID) -> dict[str, int]:
    rows = await BackgroundRemoverSubscriptionUsage.raw(
        "SELECT tier, count FROM background_remover_subscription_usage WHERE subscription_id = {} AND date = {}",
        subscription_id,
        today(),
    )
    return {u["tier"]: int(u["count"]) for u in rows}


async def get_subscription(user_id: str) -> SubscriptionRow | None:
    """The user's subscription (whatever its status) with today's usage, or None."""
    rows = await BackgroundRemoverSubscription.raw(
        f"SELECT {_COLUMNS} FROM background_remover_subscription WHERE user_id = {{}}", user_id
    )
    if not rows:
        return None
    return _row(rows[0], await _usage_today(rows[0]["id"]))


async def lock_subscription(user_id: str) -> SubscriptionRow | None:
    """Inside a transaction: the row, locked against a concurrent cancel or expiry sweep until commit."""
    rows = await BackgroundRemoverSubscription.raw(
        f"SELECT {_COLUMNS} FROM background_remover_subscription WHERE user_id = {{}} FOR UPDATE", user_id
    )
    return _row(rows[0], {}) if rows else None


async def database_now() -> dt.datetime:
    """The transaction's clock, so that every decision and every stored time agree."""
    rows = await BackgroundRemoverSubscription.raw("SELECT now() AS now")
    now: dt.datetime = rows[0]["now"]
    return now


def is_active(row: SubscriptionRow | None, now: dt.datetime | None = None) -> bool:
    if row is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    return row.status == "active" and row.expires_at > now


def next_period(current: SubscriptionRow | None, period_days: int, now: dt.datetime) -> Period:
    """One more period: from the current expiry while active (nothing paid is lost), else from now."""
    length = dt.timedelta(days=period_days)
    if current is not None and is_active(current, now):
        return Period(current.started_at, current.expires_at, current.expires_at + length)
    return Period(now, now, now + length)


async def store_period(
    *,
    subscription_id: uuid.UUID,
    user_id: str,
    plan: str,
    daily_quotas: dict[str, int],
    period: Period,
    payment_id: str | None,
) -> SubscriptionRow:
    """Make the row active for ``period`` (insert or overwrite); the caller has charged for it."""
    rows = await BackgroundRemoverSubscription.raw(
        "INSERT INTO background_remover_subscription (id, user_id, plan, status, started_at, expires_at, "
        "cancelled_at, daily_quotas, payment_id, created_at, updated_at) "
        "VALUES ({}, {}, {}, 'active', {}, {}, NULL, {}::jsonb, {}, now(), now()) "
        "ON CONFLICT (user_id) DO UPDATE SET plan = EXCLUDED.plan, status = 'active', "
        "started_at = EXCLUDED.started_at, expires_at = EXCLUDED.expires_at, cancelled_at = NULL, "
        "daily_quotas = EXCLUDED.daily_quotas, payment_id = EXCLUDED.payment_id, updated_at = now() "
        f"RETURNING {_COLUMNS}",
        subscription_id,
        user_id,
        plan,
        period.started_at,
        period.expires_at,
        json.dumps(daily_quotas),
        payment_id,
    )
    return _row(rows[0], await _usage_today(rows[0]["id"]))


async def cancel(user_id: str) -> SubscriptionRow | None:
    """Cancel the active subscription now (it covers nothing from this moment); None when none is active.

    The rest of the paid period is not refunded: the price bought the whole period.
    """
    rows = await BackgroundRemoverSubscription.raw(
        "UPDATE background_remover_subscription SET status = 'cancelled', cancelled_at = now(), updated_at = now() "
        "WHERE user_id = {} AND status = 'active' RETURNING id",
        user_id,
    )
    if not rows:
        return None
    return await get_subscription(user_id)
