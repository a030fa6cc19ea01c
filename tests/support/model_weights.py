"""Skipping the tests on real weights when a tier's model is not installed."""

from __future__ import annotations

import pytest

from engine.pipeline import Engine


def require_tier(engine: Engine, tier: str) -> None:
    if not engine.available_tiers()[tier]:
        pytest.skip(f"tier {tier} unavailable ({engine.unavailable.get(tier)}): run `make models`")
