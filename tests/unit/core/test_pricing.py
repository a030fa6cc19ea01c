from __future__ import annotations

import dataclasses
import json

import pytest

from core.pricing import IDR_PER_CREDIT, credits_for_idr, plans
from core.settings import Settings


def _settings(raw: object) -> Settings:
    return dataclasses.replace(Settings(), subscription_plans_json=json.dumps(raw))


def test_the_default_plans_cost_their_rupiah_price_in_credits() -> None:
    defaults = plans(Settings())
    assert IDR_PER_CREDIT == 100
    assert {name: (p.price, p.currency, p.credits) for name, p in defaults.items()} == {
        "starter": (99_000, "IDR", 990),
        "pro": (299_000, "IDR", 2_990),
    }


def test_a_price_that_is_not_a_whole_number_of_credits_rounds_up() -> None:
    assert credits_for_idr(100) == 1
    assert credits_for_idr(101) == 2
    assert credits_for_idr(1) == 1
    assert plans(_settings({"odd": {"price": 50_050, "daily_quotas": {"basic": 1}}}))["odd"].credits == 501


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"price": 0, "daily_quotas": {"basic": 1}}, "positive price"),
        ({"price": -99_000}, "positive price"),
        ({"price": 10, "currency": "USD"}, "IDR"),
        ({"price": 99_000, "period_days": 0}, "period_days"),
    ],
)
def test_a_plan_that_would_be_free_or_unpriceable_is_refused(plan: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plans(_settings({"bad": plan}))
