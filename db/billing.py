"""Charging and refunding, inside the caller's transaction.

Rules that keep money right:
- a user's charges are serialised by a transaction-scoped advisory lock, so two concurrent
  requests can never both spend the same credits;
- every ledger row has a unique ``entry_key`` (``charge:job:<id>``, ``refund:job:<id>``, ...), so a
  retried or duplicated job can never be charged or refunded twice;
- a subscription's daily usage row is incremented with a conditional upsert, so concurrent jobs can
  never go past the quota.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from core.errors import InsufficientCredits
from core.rows import JobRow
from db.credits import BALANCE_SQL
from db.jobs import (
    JOB_COLUMNS,
    NEW_SINGLE_JOB_SQL,
    PENDING_INPUT_BYTES_SQL,
    UNFINISHED_TOTALS_SQL,
    NewImage,
    UnfinishedTotals,
    single_job_args,
)
from db.subscriptions import today
from db.tables import CreditLedgerEntry

_LEDGER_INSERT = (
    "INSERT INTO credit_ledger (id, user_id, amount, kind, entry_key, reason, job_id, batch_id, created_at) "
)
"""The ledger row's columns, for a ``VALUES`` or a ``SELECT`` that follows: every movement is one such row."""


async def lock_user(user_id: str) -> None:
    """Serialise money movements of one user until the transaction ends."""
    await CreditLedgerEntry.raw("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", f"credits:{user_id}")


@dataclass(frozen=True)
class Coverage:
    subscription_id: uuid.UUID
    usage_date: dt.date


async def cover_with_subscription(user_id: str, tier: str, *, now: dt.datetime | None = None) -> Coverage | None:
    """Take one image of today's quota for ``tier`` if the user's active subscription has one left.

    One statement: the conditional upsert reads the subscription it counts against in the same round trip.
    """
    now = now or dt.datetime.now(dt.UTC)
    # The WHERE on the conflict branch makes the increment conditional and atomic: a concurrent
    # request waits for the row lock, then sees the new count.
    rows = await CreditLedgerEntry.raw(
        "WITH sub AS (SELECT id, (daily_quotas ->> {})::int AS quota FROM background_remover_subscription "
        "WHERE user_id = {} AND status = 'active' AND expires_at > {} LIMIT 1) "
        "INSERT INTO background_remover_subscription_usage (id, subscription_id, user_id, date, tier, count) "
        "SELECT gen_random_uuid(), sub.id, {}, {}, {}, 1 FROM sub WHERE sub.quota > 0 "
        "ON CONFLICT (subscription_id, date, tier) DO UPDATE "
        "SET count = background_remover_subscription_usage.count + 1 "
        "WHERE background_remover_subscription_usage.count < (SELECT quota FROM sub) "
        "RETURNING subscription_id, date",
        tier,
        user_id,
        now,
        user_id,
        today(),
        tier,
    )
    return Coverage(rows[0]["subscription_id"], rows[0]["date"]) if rows else None


async def give_back_quota(user_id: str, tier: str, usage_date: dt.date) -> None:
    await CreditLedgerEntry.raw(
        "UPDATE background_remover_subscription_usage u SET count = u.count - 1 "
        "FROM background_remover_subscription s "
        "WHERE u.subscription_id = s.id AND s.user_id = {} AND u.date = {} AND u.tier = {} AND u.count > 0",
        user_id,
        usage_date,
        tier,
    )


@dataclass(frozen=True)
class PayingPower:
    """What a user could pay with when it was read: the credit balance, and the tiers an active
    subscription still covers today. A look before costly work; the charge in the transaction decides."""

    user_id: str
    balance: int
    quota_tiers: frozenset[str]
    pending_input_bytes: int = 0
    """Bytes of the user's uploads stored and not processed yet (:func:`db.jobs.pending_input_bytes`),
    read in the same round trip: the storage room is the other thing a submission must have."""

    @property
    def quota_left(self) -> bool:
        return bool(self.quota_tiers)

    def ensure(self, credits_needed: int, *, tier: str | None = None) -> None:
        """Raise :class:`InsufficientCredits` when neither the balance nor (with ``tier``) today's
        subscription quota for that tier could pay."""
        if self.balance < credits_needed and (tier is None or tier not in self.quota_tiers):
            raise InsufficientCredits(
                f"This costs {credits_needed} credits but the balance is {self.balance}.",
                required=credits_needed,
                balance=self.balance,
            )


async def paying_power(user_id: str) -> PayingPower:
    """The balance, the tiers with subscription quota left today and the stored unprocessed bytes, in one
    query."""
    rows = await CreditLedgerEntry.raw(
        f"SELECT ({BALANCE_SQL}) AS balance, "
        "ARRAY(SELECT q.key FROM background_remover_subscription s, jsonb_each_text(s.daily_quotas) q "
        "WHERE s.user_id = {} AND s.status = 'active' AND s.expires_at > now() AND q.value::int > COALESCE("
        "(SELECT u.count FROM background_remover_subscription_usage u "
        "WHERE u.subscription_id = s.id AND u.date = {} AND u.tier = q.key), 0)) AS quota_tiers, "
        f"({PENDING_INPUT_BYTES_SQL}) AS pending_input_bytes",
        user_id,
        user_id,
        today(),
        user_id,
    )
    row = rows[0]
    return PayingPower(
        user_id, int(row["balance"]), frozenset(row["quota_tiers"] or ()), int(row["pending_input_bytes"])
    )


async def charge(
    user_id: str,
    amount: int,
    *,
    entry_key: str,
    reason: str,
    job_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
) -> bool:
    """Debit ``amount`` credits; False when ``entry_key`` was already charged (nothing is debited again).

    Raises :class:`InsufficientCredits` when the balance is short. Call :func:`lock_user` first in the
    same transaction.
    """
    if amount <= 0:
        return False
    # The balance check and the debit in one round trip; under lock_user nothing moves in between.
    rows: list[dict[str, Any]] = await CreditLedgerEntry.raw(
        f"WITH balance AS ({BALANCE_SQL}), "
        "debit AS (" + _LEDGER_INSERT + "SELECT gen_random_uuid(), {}, {}, 'charge', {}, {}, {}, {}, now() "
        "FROM balance WHERE available >= {} ON CONFLICT (entry_key) DO NOTHING RETURNING id) "
        "SELECT available, EXISTS (SELECT 1 FROM debit) AS debited FROM balance",
        user_id,
        user_id,
        -amount,
        entry_key,
        reason,
        job_id,
        batch_id,
        amount,
    )
    available = int(rows[0]["available"])
    if available < amount:
        raise short_of(amount, available)
    return bool(rows[0]["debited"])


def short_of(amount: int, available: int) -> InsufficientCredits:
    return InsufficientCredits(
        f"This costs {amount} credits but the balance is {available}.", required=amount, balance=available
    )


@dataclass(frozen=True, slots=True)
class Admission:
    """What :func:`admit_job` saw under the user's lock, and the job row when it was admitted."""

    job: JobRow | None
    unfinished: UnfinishedTotals
    """The user's unfinished jobs before this one."""
    balance: int
    """The credit balance before this job's charge."""


async def admit_job(
    image: NewImage,
    *,
    user_id: str,
    tier: str,
    output_options: dict[str, str],
    webhook_url: str | None,
    price: int,
    coverage: Coverage | None,
    max_unfinished: int,
    max_pending_bytes: int,
) -> Admission:
    """Check the user's bounds and balance, insert the job and take its price, in one statement.

    Call :func:`lock_user` first in the same transaction (and :func:`cover_with_subscription` before it
    when the job may be paid from a subscription; ``price`` is then 0). A bound of 0 or less is no bound.
    When a bound or the balance refuses it, nothing is written and ``job`` is None: the caller says which.
    Accepting one job is the service's busiest write, and this spares it two round trips.
    """
    job_args = single_job_args(
        image,
        user_id=user_id,
        tier=tier,
        output_options=output_options,
        pricing_type="subscription" if coverage else "credit",
        credits_charged=price,
        usage_date=coverage.usage_date if coverage else None,
        webhook_url=webhook_url,
    )
    rows: list[dict[str, Any]] = await CreditLedgerEntry.raw(
        f"WITH unfinished AS ({UNFINISHED_TOTALS_SQL}), "
        f"balance AS ({BALANCE_SQL}), "
        "admitted AS (SELECT 1 FROM unfinished, balance WHERE ({}::int <= 0 OR unfinished.n + 1 <= {}::int) "
        "AND ({}::bigint <= 0 OR unfinished.bytes + {}::bigint <= {}::bigint) "
        "AND ({}::int <= 0 OR balance.available >= {}::int)), "
        f"job AS ({NEW_SINGLE_JOB_SQL} FROM admitted RETURNING {JOB_COLUMNS}), "
        "debit AS (" + _LEDGER_INSERT + "SELECT gen_random_uuid(), {}, {}, 'charge', {}, {}, {}, NULL, now() "
        "FROM admitted WHERE {}::int > 0) "
        "SELECT unfinished.n AS unfinished_n, unfinished.bytes AS unfinished_bytes, balance.available, job.* "
        "FROM unfinished CROSS JOIN balance LEFT JOIN job ON true",
        user_id,
        user_id,
        max_unfinished,
        max_unfinished,
        max_pending_bytes,
        image.bytes,
        max_pending_bytes,
        price,
        price,
        *job_args,
        user_id,
        -price,
        f"charge:job:{image.job_id}",
        f"{tier} image",
        image.job_id,
        price,
    )
    row = rows[0]
    return Admission(
        job=JobRow.from_record(row) if row["id"] is not None else None,
        unfinished=UnfinishedTotals(images=int(row["unfinished_n"]), pending_bytes=int(row["unfinished_bytes"])),
        balance=int(row["available"]),
    )


async def refund(
    user_id: str,
    amount: int,
    *,
    entry_key: str,
    reason: str,
    job_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
) -> bool:
    """Credit back ``amount``; False when this refund (``entry_key``) was already made."""
    if amount <= 0:
        return False
    return await _insert(user_id, amount, "refund", entry_key, reason, job_id, batch_id)


async def _insert(
    user_id: str,
    amount: int,
    kind: str,
    entry_key: str,
    reason: str,
    job_id: uuid.UUID | None,
    batch_id: uuid.UUID | None,
) -> bool:
    rows: list[dict[str, Any]] = await CreditLedgerEntry.raw(
        _LEDGER_INSERT + "VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {}, {}, now()) "
        "ON CONFLICT (entry_key) DO NOTHING RETURNING id",
        user_id,
        amount,
        kind,
        entry_key,
        reason,
        job_id,
        batch_id,
    )
    return bool(rows)


async def release_job(job: JobRow, reason: str) -> None:
    """Undo what accepting ``job`` took: its credits, or its subscription quota.

    Call it only with the row returned by the job's one transition to a final state: the refund is
    keyed (a second call adds nothing) but giving quota back is a plain decrement.
    """
    if job.covered_by_subscription and job.usage_date is not None:
        await give_back_quota(job.user_id, job.tier, job.usage_date)
    elif job.credits_charged > 0:
        await refund(
            job.user_id,
            job.credits_charged,
            entry_key=f"refund:job:{job.id}",
            reason=reason,
            job_id=job.id,
            batch_id=job.batch_id,
        )
