"""Response bodies. camelCase on the wire, as the original front end expects."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from core.api_keys import DEFAULT_SCOPE, ApiKeyScope
from core.rows import GrantRow
from core.serialisers import BatchOut, Camel
from core.tiers import TIERS
from db import subscriptions
from db.subscriptions import SubscriptionRow


class UsageRecord(Camel):
    """Today's covered images of one tier, under the original service's names."""

    date: dt.date
    tier: str
    removals_count: int
    total_credits_equivalent: int
    """What these images would have cost in credits."""


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
    payment_id: str | None
    """The external payment an admin recorded for the current period; null when paid in credits."""
    # the original service's view of the same quotas, which its frontend shows ("12 / 70 today")
    daily_limit: int
    """Covered images a day, all tiers together."""
    remaining_removals: int
    """Covered images left today, all tiers together (0 unless active)."""
    next_reset_date: dt.datetime
    """When today's usage starts again from zero (midnight UTC)."""
    usage_records: list[UsageRecord]


class SubscriptionEnvelope(Camel):
    subscription: SubscriptionOut | None


class Stats(Camel):
    total_single_removals: int
    total_batches: int
    has_subscription: bool
    plan: str | None
    credits_used: int
    completed_by_tier: dict[str, int]
    # the original frontend's names
    total_jobs: int
    """Every image submitted, single or in a batch."""
    credits_spent: int
    has_active_subscription: bool


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
    tiers: dict[str, bool]


def subscription_out(row: SubscriptionRow, *, active: bool) -> SubscriptionOut:
    today = subscriptions.today()
    remaining = sum(max(0, quota - row.usage_today.get(tier, 0)) for tier, quota in row.daily_quotas.items())
    return SubscriptionOut(
        id=row.id,
        plan=row.plan,
        status=row.status,
        started_at=row.started_at,
        expires_at=row.expires_at,
        cancelled_at=row.cancelled_at,
        daily_quotas=row.daily_quotas,
        usage_today=row.usage_today,
        active=active,
        payment_id=row.payment_id,
        daily_limit=sum(row.daily_quotas.values()),
        remaining_removals=remaining if active else 0,
        next_reset_date=dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
        usage_records=[
            UsageRecord(date=today, tier=tier, removals_count=n, total_credits_equivalent=n * _credits_of(tier))
            for tier, n in sorted(row.usage_today.items())
        ],
    )


def _credits_of(tier: str) -> int:
    spec = TIERS.get(tier)
    return spec.credits if spec else 0


class BatchList(Camel):
    batches: list[BatchOut]
    next_cursor: str | None
    limit: int


class TierPrice(Camel):
    tier: str
    credits: int
    available: bool
    description: str
    model: str
    model_licence: str
    unavailable_reason: str | None = None
    """Why ``available`` is false: weights not installed, or a licence ``ALLOWED_MODEL_LICENCES`` excludes."""


class VolumeDiscount(Camel):
    min_images: int
    max_images: int
    percent: int


class PlanOut(Camel):
    plan: str
    price: int
    """Per period, in ``currency`` (rupiah)."""
    currency: str
    credits: int
    """What a period costs from the credits balance (Rp 100 = 1 credit)."""
    period_days: int
    daily_quotas: dict[str, int]


class Limits(Camel):
    max_image_bytes: int
    max_megapixels: float
    min_side: int
    batch_min_images: int
    batch_max_images: int
    input_formats: list[str]
    output_formats: list[str]


class Pricing(Camel):
    tiers: list[TierPrice]
    volume_discounts: list[VolumeDiscount]
    plans: list[PlanOut]
    limits: Limits


class SubscribeIn(msgspec.Struct):
    plan: str
    payment_id: str | None = msgspec.field(default=None, name="paymentId")
    """Sent by clients of the original backend, which trusted it. A payment a user merely names proves
    nothing, so anything but null is refused (403): an operator applies payments (``POST /subscriptions/grants``)."""


class SubscriptionMessage(Camel):
    """A subscribe or cancel answer: the subscription, and the sentence the original clients show."""

    message: str
    subscription: SubscriptionOut | None


class SubscriptionGrantIn(Camel):
    user_id: str
    plan: str
    payment_id: str
    """The payment provider's id of the payment; a second grant with it changes nothing."""


class SubscriptionGrantOut(Camel):
    user_id: str
    plan: str
    payment_id: str
    granted: bool
    """False when this payment was already applied (the subscription is shown as it is now)."""
    subscription: SubscriptionOut
    granted_by: str
    """The admin who made this call (the first grant's actor is in `GET /credits/grants`)."""


class GrantIn(Camel):
    user_id: str
    credits: int
    reason: str = "manual grant"
    grant_id: str | None = None


class GrantOut(Camel):
    user_id: str
    credits: int
    granted: bool
    balance: int
    granted_by: str
    """The admin who made this call (the first grant's actor is in `GET /credits/grants`)."""


class GrantListed(Camel):
    """One grant of the ledger and who made it."""

    id: uuid.UUID
    user_id: str
    credits: int
    reason: str
    entry_key: str
    """`grant:<grantId>`, or `payment:<paymentId>` for a subscription paid outside the service."""
    granted_by: str | None
    granted_via: str | None
    """`token` (an admin's bearer token) or `cli` (`python -m db.admin grant`); null before actors were recorded."""
    created_at: dt.datetime


class GrantList(Camel):
    grants: list[GrantListed]
    limit: int


def grant_out(row: GrantRow) -> GrantListed:
    return GrantListed(
        id=row.id,
        user_id=row.user_id,
        credits=row.amount,
        reason=row.reason,
        entry_key=row.entry_key,
        granted_by=row.actor_user_id,
        granted_via=row.actor_method.value if row.actor_method is not None else None,
        created_at=row.created_at,
    )


class ApiKeyIn(Camel):
    name: str = ""
    """A label to tell keys apart (at most 100 characters)."""
    scope: ApiKeyScope = DEFAULT_SCOPE
    """`basic` (the default): jobs, batches and the account. `manage`: also rotate the webhook secret and
    revoke the other keys; ask for it only for a key that needs it."""


class ApiKeyOut(Camel):
    """An API key as listed: never the key itself."""

    id: uuid.UUID
    prefix: str
    name: str
    scope: ApiKeyScope
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    """Updated at most once a minute."""


class ApiKeyCreated(ApiKeyOut):
    key: str
    """The key itself, shown this once: it is stored only as a hash and cannot be shown again."""


class ApiKeyList(Camel):
    api_keys: list[ApiKeyOut]
    limit: int
