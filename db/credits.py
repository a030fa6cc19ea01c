"""The credits ledger: one row per movement; a balance is always a sum, never a stored number."""

from __future__ import annotations

from typing import Any

from core.actors import Actor
from core.rows import GrantRow
from db.tables import CreditLedgerEntry

BALANCE_SQL = "SELECT COALESCE(SUM(amount), 0)::bigint AS available FROM credit_ledger WHERE user_id = {}"
"""A user's credit balance, the sum of their ledger (also inside :mod:`db.billing`'s statements)."""


async def balance(user_id: str) -> int:
    rows = await CreditLedgerEntry.raw(BALANCE_SQL, user_id)
    return int(rows[0]["available"])


async def grant(user_id: str, amount: int, *, reason: str, entry_key: str, actor: Actor | None = None) -> bool:
    """Add ``amount`` credits; False when ``entry_key`` was already used (the grant is not repeated).

    ``actor`` is who made the grant; the API and ``python -m db.admin`` always name one. None is left
    for seeding (tests, the load script), whose rows then show no actor."""
    if amount <= 0:
        raise ValueError("a grant must be positive")
    rows: list[dict[str, Any]] = await CreditLedgerEntry.raw(
        "INSERT INTO credit_ledger "
        "(id, user_id, amount, kind, entry_key, reason, actor_user_id, actor_method, created_at) "
        "VALUES (gen_random_uuid(), {}, {}, 'grant', {}, {}, {}, {}, now()) "
        "ON CONFLICT (entry_key) DO NOTHING RETURNING id",
        user_id,
        amount,
        entry_key,
        reason,
        actor.user_id if actor is not None else None,
        actor.method.value if actor is not None else None,
    )
    return bool(rows)


async def recent_grants(user_id: str | None, *, limit: int) -> list[GrantRow]:
    """The newest grants, of one user or of everyone, with who made each."""
    where = "kind = 'grant'" + (" AND user_id = {}" if user_id is not None else "")
    args: list[Any] = [user_id] if user_id is not None else []
    rows = await CreditLedgerEntry.raw(
        "SELECT id, user_id, amount, entry_key, reason, actor_user_id, actor_method, created_at "
        f"FROM credit_ledger WHERE {where} ORDER BY created_at DESC, id DESC LIMIT {{}}",
        *args,
        limit,
    )
    return [GrantRow.from_record(r) for r in rows]


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
