"""The caller's own account: usage statistics and credit balance."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from api.auth import Principal
from api.schemas import Balance, Stats, StatsEnvelope
from api.web import openapi_examples as ex
from db import batches, credits, jobs, subscriptions


class AccountController(Controller):
    tags = ["account"]

    @get("/stats", operation_id="getStats", summary="Usage statistics of the caller", responses=ex.STATS_RESPONSES)
    async def get_stats(self, request: Request[Principal, Any, Any]) -> StatsEnvelope:
        """Counts of single removals and batches, subscription plan, credits used and completed images per tier;
        also under the original frontend's names (`totalJobs`: every image, single or in a batch;
        `creditsSpent`; `hasActiveSubscription`)."""
        user_id = request.user.user_id
        single = await jobs.count_single_jobs(user_id)
        batch_count = await batches.count_batches(user_id)
        sub = await subscriptions.get_subscription(user_id)
        active = subscriptions.is_active(sub)
        used = await credits.credits_used(user_id)
        return StatsEnvelope(
            stats=Stats(
                total_single_removals=single,
                total_batches=batch_count,
                has_subscription=active,
                plan=sub.plan if sub is not None and active else None,
                credits_used=used,
                completed_by_tier=await jobs.completed_counts_by_tier(user_id),
                total_jobs=await jobs.count_jobs(user_id),
                credits_spent=used,
                has_active_subscription=active,
            )
        )

    @get(
        "/credits/balance",
        operation_id="getCreditBalance",
        summary="The caller's credit balance",
        responses=ex.BALANCE_RESPONSES,
    )
    async def get_balance(self, request: Request[Principal, Any, Any]) -> Balance:
        """The sum of the caller's ledger rows (grants, charges, refunds)."""
        user_id = request.user.user_id
        return Balance(balance=await credits.balance(user_id), user_id=user_id)
