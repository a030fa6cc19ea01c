"""Prices: credits per tier (from :mod:`core.tiers`), batch volume discounts and subscription plans.

Plans are configuration: ``SUBSCRIPTION_PLANS`` (JSON, same shape as :data:`DEFAULT_PLANS`)
replaces the defaults without a code change. A plan's price is in rupiah; what a period costs in
credits is derived from it here and nowhere else (:data:`IDR_PER_CREDIT`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.errors import InvalidOptions
from core.settings import Settings
from core.tiers import get_tier

IDR_PER_CREDIT = 100
"""Rp 100 buys one credit: the one rate between plan prices and the credits ledger."""


def credits_for_idr(rupiah: int) -> int:
    """Credits worth ``rupiah``, rounded up so that no paid amount converts to nothing."""
    return math.ceil(rupiah / IDR_PER_CREDIT)


@dataclass(frozen=True)
class Plan:
    name: str
    price: int
    """Rupiah per period."""
    currency: str
    period_days: int
    daily_quotas: dict[str, int]
    """Single images per tier per UTC day covered by the plan; tiers not listed are not covered."""

    @property
    def credits(self) -> int:
        """What one period costs from the credits ledger."""
        return credits_for_idr(self.price)


DEFAULT_PLANS: dict[str, dict[str, object]] = {
    "starter": {
        "price": 99_000,
        "currency": "IDR",
        "period_days": 30,
        "daily_quotas": {"basic": 50, "standard": 20},
    },
    "pro": {
        "price": 299_000,
        "currency": "IDR",
        "period_days": 30,
        "daily_quotas": {"basic": 200, "standard": 100, "professional": 50, "industry": 20},
    },
}

VOLUME_DISCOUNTS: tuple[tuple[int, int, int], ...] = (
    (20, 49, 5),
    (50, 99, 10),
    (100, 199, 15),
    (200, 500, 20),
)
"""(minimum images, maximum images, percent off the batch total)."""


def tier_credits(tier: str) -> int:
    return get_tier(tier).credits


def discount_percent(images: int) -> int:
    for low, high, percent in VOLUME_DISCOUNTS:
        if low <= images <= high:
            return percent
    return 0


@dataclass(frozen=True)
class BatchPrice:
    images: int
    before_discount: int
    discount_percent: int
    total: int
    per_image: tuple[int, ...]
    """What each image costs, summing to ``total``; refunded image by image when one fails."""


def batch_price(unit_credits: int, images: int) -> BatchPrice:
    """``images`` at ``unit_credits`` each (the tier's price, see :func:`tier_credits`), discounted."""
    before = unit_credits * images
    percent = discount_percent(images)
    # Rounded down: a discount never costs the customer a fraction of a credit.
    total = before * (100 - percent) // 100
    base, extra = divmod(total, images)
    per_image = tuple(base + 1 if i < extra else base for i in range(images))
    return BatchPrice(images, before, percent, total, per_image)


def plans(settings: Settings) -> dict[str, Plan]:
    return _parse_plans(settings.subscription_plans_json)


@lru_cache(maxsize=4)
def _parse_plans(raw: str) -> dict[str, Plan]:
    source = json.loads(raw) if raw.strip() else DEFAULT_PLANS
    if not isinstance(source, dict):
        raise ValueError("SUBSCRIPTION_PLANS must be a JSON object of plans")
    out: dict[str, Plan] = {}
    for name, body in source.items():
        spec: dict[str, Any] = dict(body)
        out[name] = Plan(
            name=name,
            price=int(spec["price"]),
            currency=str(spec.get("currency", "IDR")),
            period_days=int(spec.get("period_days", 30)),
            daily_quotas={str(k): int(v) for k, v in dict(spec.get("daily_quotas", {})).items()},
        )
        _check_plan(out[name])
    return out


def _check_plan(p: Plan) -> None:
    # A plan that converts to 0 credits would be a free subscription; a price in another currency
    # has no rate to credits. Both are configuration mistakes, refused when the app is created.
    if p.currency != "IDR":
        raise ValueError(f"SUBSCRIPTION_PLANS: plan {p.name!r} must be priced in IDR (credits are bought in rupiah)")
    if p.price <= 0:
        raise ValueError(f"SUBSCRIPTION_PLANS: plan {p.name!r} needs a positive price")
    if p.period_days <= 0:
        raise ValueError(f"SUBSCRIPTION_PLANS: plan {p.name!r} needs a positive period_days")


def plan(settings: Settings, name: str) -> Plan:
    available = plans(settings)
    if name not in available:
        raise InvalidOptions(f"Unknown plan {name!r}; choose one of {', '.join(available)}", parameter="plan")
    return available[name]
