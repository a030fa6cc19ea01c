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
    usage_rows = await BackgroundRemoverSubscriptionUsage.select(
        BackgroundRemoverSubscriptionUsage.tier, BackgroundRemoverSubscriptionUsage.usage_count
    ).where(
        (BackgroundRemoverSubscriptionUsage.subscription_id == row["id"])
        & (BackgroundRemoverSubscriptionUsage.date == today())
    )
    row["usage_today"] = {u["tier"]: u["usage_count"] for u in usage_rows}
    return row


def is_active(row: dict[str, Any] | None, now: dt.datetime | None = None) -> bool:
    if row is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    return bool(row["status"] == "active" and row["expires_at"] > now)
