"""The credits ledger: one row per movement; a balance is always a sum, never a stored number."""

from __future__ import annotations

from typing import Any

from db.tables import CreditLedgerEntry


async def balance(user_id: str) -> int:
    rows = await CreditLedgerEntry.raw(
        "SELECT COALESCE(SUM(amount), 0)::bigint AS balance FROM credit_ledger WHERE user_id = {}", user_id
    )
    return int(rows[0]["balance"])


async def grant(user_id: str, amount: int, *, reason: str, entry_key: str) -> bool:
    """Add ``amount`` credits; False when ``entry_key`` was already used (the grant is not repeated)."""
    if amount <= 0:
        raise ValueError("a grant must be positive")
    rows: list[dict[str, Any]] = await CreditLedgerEntry.raw(
        "INSERT INTO credit_ledger (id, user_id, amount, kind, entry_key, reason, created_at) "
        "VALUES (gen_random_uuid(), {}, {}, 'grant', {}, {}, now()) "
        "ON CONFLICT (entry_key) DO NOTHING RETURNING id",
        user_id,
        amount,
        entry_key,
        reason,
    )
    return bool(rows)


async def credits_used(user_id: str) -> int:
    """Credits spent net of refunds."""
    rows = await CreditLedgerEntry.raw(
        "SELECT COALESCE(-SUM(amount), 0)::bigint AS used FROM credit_ledger "
        "WHERE user_id = {} AND kind IN ('charge', 'refund')",
        user_id,
    )
    return int(rows[0]["used"])


async def entry_owner(entry_key: str) -> str | None:
    """The user whose ledger row holds ``entry_key``, or None when the key is unused."""
    rows = await CreditLedgerEntry.raw("SELECT user_id FROM credit_ledger WHERE entry_key = {}", entry_key)
    return str(rows[0]["user_id"]) if rows else None
