"""The service's tables. PostgreSQL is the source of truth; every change here needs a migration.

``make check-migrations`` (also part of ``make test``) fails when these classes differ from what
the files in ``migrations/`` build, so a forgotten migration can never reach a deployment.
"""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from core.actors import ActorMethod
from core.api_keys import ApiKeyScope
from core.statuses import BatchStatus, JobStatus

JOB_STATUSES = tuple(JobStatus)
BATCH_STATUSES = tuple(BatchStatus)
SUBSCRIPTION_STATUSES = ("active", "cancelled", "expired", "suspended")
PRICING_TYPES = ("credit", "subscription")
LEDGER_KINDS = ("grant", "charge", "refund", "adjustment")
ACTOR_METHODS = tuple(ActorMethod)
API_KEY_SCOPES = tuple(ApiKeyScope)
WEBHOOK_KINDS = ("job", "batch")
WEBHOOK_DELIVERY_STATUSES = ("retrying", "delivered", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f'"{column}" IN ({quoted})'


class BackgroundRemovalBatch(Table, tablename="background_removal_batch"):
    """A group of 2–500 images submitted together, always paid in credits."""

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False, index=True)
    public_id = Varchar(length=64, null=False, unique=True)
    name = Varchar(length=255, null=True, default=None)
    tier = Varchar(length=32, null=False)
    status = Varchar(length=16, null=False, default="pending")
    total_images = Integer(null=False, default=0)
    processed_images = Integer(null=False, default=0)
    failed_images = Integer(null=False, default=0)
    credits_before_discount = Integer(null=False, default=0)
    credits_charged = Integer(null=False, default=0)
    discount_percent = Integer(null=False, default=0)
    output_options = JSONB(null=False, default={})
    zip_key = Varchar(length=512, null=True, default=None)
    webhook_url = Varchar(length=2048, null=True, default=None)
    webhook_status = Varchar(length=16, null=True, default=None)
    webhook_attempts = Integer(null=False, default=0)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)

    batch_status_valid = Check(_in("status", BATCH_STATUSES))
    batch_counts_valid = Check("processed_images >= 0 AND failed_images >= 0 AND failed_images <= processed_images")
    batch_discount_valid = Check("discount_percent >= 0 AND discount_percent <= 100")


class BackgroundRemovalJob(Table, tablename="background_removal_job"):
    """One image to cut out: a single job, or one image of a batch."""

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False)
    batch_id = ForeignKey(
        references=BackgroundRemovalBatch, null=True, default=None, on_delete=OnDelete.cascade, index=True
    )
    position = Integer(null=True, default=None)
    tier = Varchar(length=32, null=False)
    status = Varchar(length=16, null=False, default="pending")
    pricing_type = Varchar(length=16, null=False, default="credit")
    original_filename = Varchar(length=255, null=False, default="")
    input_key = Varchar(length=512, null=True, default=None)
    output_key = Varchar(length=512, null=True, default=None)
    input_width = Integer(null=True, default=None)
    input_height = Integer(null=True, default=None)
    input_bytes = BigInt(null=True, default=None)
    input_format = Varchar(length=8, null=True, default=None)
    output_options = JSONB(null=False, default={})
    credits_charged = Integer(null=False, default=0)
    covered_by_subscription = Boolean(null=False, default=False)
    error_code = Varchar(length=64, null=True, default=None)
    error_message = Text(null=True, default=None)
    attempts = Integer(null=False, default=0)
    worker_id = Varchar(length=128, null=True, default=None)
    """The worker processing (or last to process) the job; a dead worker's jobs are taken over."""
    processing_ms = Integer(null=True, default=None)
    foreground_left = Integer(null=True, default=None)
    """The subject's bounding box in the result image, in pixels (what remove.bg clients read)."""
    foreground_top = Integer(null=True, default=None)
    foreground_width = Integer(null=True, default=None)
    foreground_height = Integer(null=True, default=None)
    usage_date = Date(null=True, default=None)
    """The subscription day whose quota covered this job (given back if the job finally fails)."""
    webhook_url = Varchar(length=2048, null=True, default=None)
    webhook_status = Varchar(length=16, null=True, default=None)
    webhook_attempts = Integer(null=False, default=0)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=False, default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)

    job_status_valid = Check(_in("status", JOB_STATUSES))
    job_pricing_type_valid = Check(_in("pricing_type", PRICING_TYPES))
    job_credits_non_negative = Check("credits_charged >= 0")
    job_position_unique = Unique(["batch_id", "position"])


class BackgroundRemoverSubscription(Table, tablename="background_remover_subscription"):
    """A user's monthly plan; one per user. Covers single jobs within its daily per-tier quotas.

    Every period is paid: in credits (a ``charge`` in the ledger) or by an external payment an admin
    records (``payment_id``, also a keyed ledger row so a payment is never applied twice).
    """

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False, unique=True)
    plan = Varchar(length=32, null=False)
    status = Varchar(length=16, null=False, default="active")
    started_at = Timestamptz(null=False, default=TimestamptzNow())
    expires_at = Timestamptz(null=False)
    cancelled_at = Timestamptz(null=True, default=None)
    daily_quotas = JSONB(null=False, default={})
    payment_id = Varchar(length=255, null=True, default=None, unique=True)
    """The external payment an admin recorded for the current period; null when it was paid in credits."""
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=False, default=TimestamptzNow(), auto_update=TimestamptzNow().python)

    subscription_status_valid = Check(_in("status", SUBSCRIPTION_STATUSES))


class BackgroundRemoverSubscriptionUsage(Table, tablename="background_remover_subscription_usage"):
    """Images covered by a subscription on one day for one tier; incremented atomically."""

    id = UUID(primary_key=True)
    subscription_id = ForeignKey(
        references=BackgroundRemoverSubscription, null=False, on_delete=OnDelete.cascade, on_update=OnUpdate.cascade
    )
    user_id = Varchar(length=255, null=False)
    date = Date(null=False)
    tier = Varchar(length=32, null=False)
    # ``count`` would shadow Table.count(); the column keeps the spec's name.
    usage_count = Integer(null=False, default=0, db_column_name="count")

    usage_per_day_tier_unique = Unique(["subscription_id", "date", "tier"])
    usage_count_non_negative = Check("count >= 0")


class CreditLedgerEntry(Table, tablename="credit_ledger"):
    """One movement of credits. A user's balance is the sum of their rows, never a mutable column.

    ``entry_key`` is unique: charging or refunding the same thing twice is refused by the database.
    """

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False, index=True, index_method=IndexMethod.btree)
    amount = Integer(null=False)
    kind = Varchar(length=16, null=False)
    entry_key = Varchar(length=255, null=False, unique=True)
    job_id = ForeignKey(references=BackgroundRemovalJob, null=True, default=None, on_delete=OnDelete.set_null)
    batch_id = ForeignKey(references=BackgroundRemovalBatch, null=True, default=None, on_delete=OnDelete.set_null)
    reason = Varchar(length=255, null=False, default="")
    actor_user_id = Varchar(length=255, null=True, default=None)
    """Who made a grant (an admin's user id, or the operator named on the command line); null on other
    kinds of rows, and on grants from before actors were recorded."""
    actor_method = Varchar(length=16, null=True, default=None)
    """How they were authenticated (:class:`core.actors.ActorMethod`): ``token`` or ``cli``."""
    created_at = Timestamptz(null=False, default=TimestamptzNow())

    ledger_actor_method_valid = Check(f"actor_method IS NULL OR {_in('actor_method', ACTOR_METHODS)}")
    ledger_kind_valid = Check(_in("kind", LEDGER_KINDS))
    ledger_amount_sign = Check(
        "(kind IN ('grant', 'refund') AND amount > 0) OR (kind = 'charge' AND amount < 0) OR kind = 'adjustment'"
    )


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first answer to a POST with an ``Idempotency-Key``, replayed for retries of the same request."""

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False)
    endpoint = Varchar(length=64, null=False)
    key = Varchar(length=255, null=False)
    request_hash = Varchar(length=64, null=False)
    status_code = Integer(null=True, default=None)
    response = JSONB(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow(), index=True)

    idempotency_key_unique = Unique(["user_id", "endpoint", "key"])


class WebhookSigningSecret(Table, tablename="webhook_signing_secret"):
    """A user's Standard Webhooks signing secret (``whsec_…``), one per user.

    Stored readable because signing needs the key itself (a hash would not do for HMAC); the API
    returns it only in the answer that created or rotated it. After a rotation the previous secret
    still signs, beside the new one, until ``previous_expires_at``, so receivers can switch without
    losing deliveries.
    """

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False, unique=True)
    secret = Varchar(length=64, null=False, secret=True)
    previous_secret = Varchar(length=64, null=True, default=None, secret=True)
    previous_expires_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    rotated_at = Timestamptz(null=True, default=None)


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """The delivery log: one row per job or batch event, its attempts and why it last failed.

    Rows ``retrying`` are the deliveries waiting for another attempt; their count per user and in
    total is what the pending caps bound.
    """

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False)
    kind = Varchar(length=8, null=False)
    object_id = UUID(null=False)
    status = Varchar(length=16, null=False)
    attempts = Integer(null=False, default=0)
    last_status_code = Integer(null=True, default=None)
    last_error = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=False, default=TimestamptzNow())

    webhook_delivery_kind_valid = Check(_in("kind", WEBHOOK_KINDS))
    webhook_delivery_status_valid = Check(_in("status", WEBHOOK_DELIVERY_STATUSES))
    webhook_delivery_event_unique = Unique(["kind", "object_id"])


class ApiKey(Table, tablename="api_key"):
    """A user's API key, accepted as ``X-Api-Key`` beside bearer tokens.

    Only the sha256 of the key is stored: the key is shown once, when it is created, and a copy of this
    table does not let anyone call the API. ``prefix`` (the first characters) lets a user tell keys apart.
    A revoked key keeps its row (``revoked_at``) so that the list of keys ever issued stays auditable.
    """

    id = UUID(primary_key=True)
    user_id = Varchar(length=255, null=False, index=True)
    name = Varchar(length=100, null=False, default="")
    prefix = Varchar(length=16, null=False)
    key_hash = Varchar(length=64, null=False, unique=True)
    scope = Varchar(length=16, null=False, default="basic")
    """What the key may do (:class:`core.api_keys.ApiKeyScope`); keys from before scopes existed are ``basic``."""
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    """Updated at most once a minute per key, so authentication adds no write to every request."""
    revoked_at = Timestamptz(null=True, default=None)

    api_key_scope_valid = Check(_in("scope", API_KEY_SCOPES))


TABLES: tuple[type[Table], ...] = (
    BackgroundRemovalBatch,
    BackgroundRemovalJob,
    BackgroundRemoverSubscription,
    BackgroundRemoverSubscriptionUsage,
    CreditLedgerEntry,
    IdempotencyRecord,
    WebhookSigningSecret,
    WebhookDelivery,
    ApiKey,
)
"""Every table, parents first (the order migrations and test set-up create them in)."""

COMPOSITE_INDEXES: dict[str, str] = {
    "background_removal_job_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS background_removal_job_user_created_idx "
        "ON background_removal_job (user_id, created_at DESC, id DESC)"
    ),
    "background_removal_job_pending_idx": (
        "CREATE INDEX IF NOT EXISTS background_removal_job_pending_idx "
        "ON background_removal_job (status, created_at) WHERE status IN ('pending', 'processing')"
    ),
    "background_removal_job_user_unfinished_idx": (
        "CREATE INDEX IF NOT EXISTS background_removal_job_user_unfinished_idx "
        "ON background_removal_job (user_id) WHERE status IN ('pending', 'processing')"
    ),
    "background_removal_batch_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS background_removal_batch_user_created_idx "
        "ON background_removal_batch (user_id, created_at DESC, id DESC)"
    ),
    "background_remover_subscription_usage_sub_date_idx": (
        "CREATE INDEX IF NOT EXISTS background_remover_subscription_usage_sub_date_idx "
        "ON background_remover_subscription_usage (subscription_id, date)"
    ),
    "credit_ledger_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS credit_ledger_user_created_idx ON credit_ledger (user_id, created_at)"
    ),
    "webhook_delivery_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS webhook_delivery_user_created_idx "
        "ON webhook_delivery (user_id, created_at DESC, id DESC)"
    ),
    "webhook_delivery_retrying_idx": (
        "CREATE INDEX IF NOT EXISTS webhook_delivery_retrying_idx "
        "ON webhook_delivery (user_id, updated_at) WHERE status = 'retrying'"
    ),
}
"""Multi-column indexes Piccolo cannot declare on a column; created by a raw migration and checked by
``db.schema_status`` so they cannot be forgotten either."""
