"""Paying for subscription periods, inside the caller's transaction.

A period exists only once it is paid, and both happen in one transaction:
- the user's money movements are serialised by :func:`db.billing.lock_user` (the lock jobs take), so
  a subscription and a job can never both spend the same credits, and two purchases never both
  see "no active subscription";
- the charge is a keyed ledger row (``charge:subscription:<id>:<period start>``), so the same period
  can never be charged twice;
- an external payment is recorded as a keyed grant (``payment:<paymentId>``) that the period's charge
  then spends: the user's balance is unchanged, every period sold is a charge in the ledger, and a
  payment id can be applied once, ever (the idempotency records expire; ledger rows do not).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from core.actors import Actor
from core.errors import AlreadySubscribed, Conflict
from core.pricing import Plan
from db import billing, credits, subscriptions
from db.subscriptions import Period, SubscriptionRow


async def subscribe(user_id: str, plan: Plan) -> SubscriptionRow:
    """Start a period of ``plan`` paid in credits.

    Raises :class:`AlreadySubscribed` while a subscription is active and
    :class:`~core.errors.InsufficientCredits` when the balance is short; nothing is stored then.
    """
    await billing.lock_user(user_id)
    now = await subscriptions.database_now()
    current = await subscriptions.lock_subscription(user_id)
    if subscriptions.is_active(current, now):
        raise AlreadySubscribed("You already have an active subscription; cancel it first to change plans.")
    return await _pay_and_store(user_id, plan, current, subscriptions.next_period(current, plan.period_days, now))


async def renew(user_id: str, plans: Mapping[str, Plan]) -> SubscriptionRow:
    """One more period of the user's plan, paid in credits: from the expiry while active, else from now."""
    await billing.lock_user(user_id)
    now = await subscriptions.database_now()
    current = await subscriptions.lock_subscription(user_id)
    if current is None:
        raise Conflict("There is no subscription to renew; subscribe to a plan first.")
    if current.status == "suspended":
        raise Conflict("This subscription is suspended and cannot be renewed.")
    plan = plans.get(current.plan)
    if plan is None:
        raise Conflict(f"The {current.plan!r} plan is no longer offered; subscribe to another plan.")
    return await _pay_and_store(user_id, plan, current, subscriptions.next_period(current, plan.period_days, now))


async def grant_paid(user_id: str, plan: Plan, payment_id: str, *, actor: Actor) -> tuple[SubscriptionRow, bool]:
    """One period of ``plan`` paid outside the service by ``payment_id``; (row, False) when already applied.
    ``actor`` (who recorded the payment) is kept on the payment's ledger row.

    An active subscription of the same plan is extended; of another plan, :class:`AlreadySubscribed`.
    A payment id already applied to another user is a :class:`Conflict`.
    """
    await billing.lock_user(user_id)
    entry_key = f"payment:{payment_id}"
    # The keyed insert is the test and the claim at once: a concurrent grant of the same payment
    # waits on the unique index, then finds the row.
    recorded = await credits.grant(
        user_id,
        plan.credits,
        reason=f"payment {payment_id} for the {plan.name} plan"[:255],
        entry_key=entry_key,
        actor=actor,
    )
    if not recorded:
        if await credits.entry_owner(entry_key) != user_id:
            raise Conflict(f"Payment {payment_id!r} was already applied to another user.")
        row = await subscriptions.get_subscription(user_id)
        if row is None:
            raise Conflict(f"Payment {payment_id!r} was already recorded.")
        return row, False
    now = await subscriptions.database_now()
    current = await subscriptions.lock_subscription(user_id)
    if current is not None and subscriptions.is_active(current, now) and current.plan != plan.name:
        raise AlreadySubscribed(
            f"This user has an active {current.plan} subscription; cancel it before granting {plan.name}."
        )
    period = subscriptions.next_period(current, plan.period_days, now)
    return await _pay_and_store(user_id, plan, current, period, payment_id=payment_id), True


async def _pay_and_store(
    user_id: str, plan: Plan, current: SubscriptionRow | None, period: Period, *, payment_id: str | None = None
) -> SubscriptionRow:
    subscription_id = current.id if current is not None else uuid.uuid4()
    charged = await billing.charge(
        user_id,
        plan.credits,
        entry_key=f"charge:subscription:{subscription_id}:{period.starts_at.isoformat()}",
        reason=f"{plan.name} subscription {period.starts_at:%Y-%m-%d} to {period.expires_at:%Y-%m-%d}",
    )
    if not charged:
        # A period is identified by its start; one that was already charged must never be handed
        # out again for nothing.
        raise Conflict("This subscription period was already paid; reload the subscription and try again.")
    return await subscriptions.store_period(
        subscription_id=subscription_id,
        user_id=user_id,
        plan=plan.name,
        daily_quotas=plan.daily_quotas,
        period=period,
        payment_id=payment_id,
    )
