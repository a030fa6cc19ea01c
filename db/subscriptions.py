"""Reading a user's subscription and today's usage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from db.tables import BackgroundRemoverSubscription, BackgroundRemoverSubscriptionUsage


def today() -> dt.date:
    """Quotas are daily in UTC, whatever the server's local time zone."""
    return dt.datetime.now(dt.UTC).date()


async def get_subscription(user_id: str) -> dict[str, Any] | None:
    """The user's subscription row with ``usage_today`` ({tier: count}), or None."""
    row = await BackgroundRemoverSubscription.select().where(BackgroundRemoverSubscription.user_id == user_id).first()
    if row is None:
        return None
    usage_rows = await BackgroundRemoverSubscriptionUsage.raw(
        "SELECT tier, count FROM background_remover_subscription_usage WHERE subscription_id = {} AND date = {}",
        row["id"],
        today(),
    )
    row["usage_today"] = {u["tier"]: u["count"] for u in usage_rows}
    return row


def is_active(row: dict[str, Any] | None, now: dt.datetime | None = None) -> bool:
    if row is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    return bool(row["status"] == "active" and row["expires_at"] > now)


async def subscribe(user_id: str, plan: str, daily_quotas: dict[str, int], period_days: int) -> dict[str, Any] | None:
    """Start (or restart after cancel/expiry) a subscription; None when one is already active."""
    import json

    rows = await BackgroundRemoverSubscription.raw(
        "INSERT INTO background_remover_subscription (id, user_id, plan, status, started_at, expires_at, "
        "cancelled_at, daily_quotas, created_at, updated_at) "
        "VALUES (gen_random_uuid(), {}, {}, 'active', now(), now() + make_interval(days => {}), NULL, {}::jsonb, "
        "now(), now()) "
        "ON CONFLICT (user_id) DO UPDATE SET plan = EXCLUDED.plan, status = 'active', started_at = now(), "
        "expires_at = EXCLUDED.expires_at, cancelled_at = NULL, daily_quotas = EXCLUDED.daily_quotas, "
        "updated_at = now() "
        "WHERE background_remover_subscription.status <> 'active' "
        "OR background_remover_subscription.expires_at <= now() RETURNING id",
        user_id,
        plan,
        period_days,
        json.dumps(daily_quotas),
    )
    if not rows:
        return None
    return await get_subscription(user_id)


async def cancel(user_id: str) -> dict[str, Any] | None:
    """Cancel the active subscription now (it covers nothing from this moment); None when none is active."""
    rows = await BackgroundRemoverSubscription.raw(
        "UPDATE background_remover_subscription SET status = 'cancelled', cancelled_at = now(), updated_at = now() "
        "WHERE user_id = {} AND status = 'active' RETURNING id",
        user_id,
    )
    if not rows:
        return None
    return await get_subscription(user_id)
