"""The caller's own account: subscription, stats and credit balance (the seed's endpoints)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from api.auth import Principal
from api.schemas import Balance, Stats, StatsEnvelope, SubscriptionEnvelope, subscription_out
from db import batches, credits, jobs, subscriptions


class AccountController(Controller):
    tags = ["account"]

    @get("/subscription", operation_id="getSubscription", summary="The caller's subscription, or null")
    async def get_subscription(self, request: Request[Principal, Any, Any]) -> SubscriptionEnvelope:
        """`{"subscription": null}` for a user who never subscribed."""
        row = await subscriptions.get_subscription(request.user.user_id)
        if row is None:
            return SubscriptionEnvelope(subscription=None)
        return SubscriptionEnvelope(subscription=subscription_out(row, active=subscriptions.is_active(row)))

    @get("/stats", operation_id="getStats", summary="Usage statistics of the caller")
    async def get_stats(self, request: Request[Principal, Any, Any]) -> StatsEnvelope:
        """Counts of single removals and batches, subscription plan, credits used and completed images per tier."""
        user_id = request.user.user_id
        single = await jobs.count_single_jobs(user_id)
        batch_count = await batches.count_batches(user_id)
        sub = await subscriptions.get_subscription(user_id)
        active = subscriptions.is_active(sub)
        return StatsEnvelope(
            stats=Stats(
                total_single_removals=single,
                total_batches=batch_count,
                has_subscription=active,
                plan=sub["plan"] if sub is not None and active else None,
                credits_used=await credits.credits_used(user_id),
                completed_by_tier=await jobs.completed_counts_by_tier(user_id),
            )
        )

    @get("/credits/balance", operation_id="getCreditBalance", summary="The caller's credit balance")
    async def get_balance(self, request: Request[Principal, Any, Any]) -> Balance:
        """The sum of the caller's ledger rows (grants, charges, refunds)."""
        user_id = request.user.user_id
        return Balance(balance=await credits.balance(user_id), user_id=user_id)
