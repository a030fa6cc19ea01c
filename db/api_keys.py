"""API keys: create (bounded per user), list, revoke, and the look-up authentication makes.

The look-up is one indexed read by hash; ``last_used_at`` is written only when it is older than
:data:`TOUCH_INTERVAL_S`, so a key used on every request still costs at most one write a minute.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from core.api_keys import DEFAULT_SCOPE, ApiKeyScope, NewKey
from core.errors import ApiKeyLimitReached
from core.rows import ApiKeyRow
from db.piccolo_conf import DB
from db.tables import ApiKey

TOUCH_INTERVAL_S = 60
_COLUMNS = "id, user_id, name, prefix, scope, created_at, last_used_at"


@dataclass(frozen=True)
class KeyOwner:
    """Who a presented key belongs to, and whether its ``last_used_at`` is due for an update."""

    key_id: uuid.UUID
    user_id: str
    scope: ApiKeyScope
    last_used_at: dt.datetime | None


async def create(user_id: str, new: NewKey, *, name: str, limit: int, scope: ApiKeyScope = DEFAULT_SCOPE) -> ApiKeyRow:
    """Store ``new`` (its hash and prefix) for ``user_id``; :class:`ApiKeyLimitReached` past ``limit``
    active keys. The count and the insert run under the user's lock, so parallel requests cannot
    overshoot it."""
    async with DB.transaction():
        await ApiKey.raw("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", f"api-keys:{user_id}")
        rows = await ApiKey.raw(
            "SELECT count(*)::int AS n FROM api_key WHERE user_id = {} AND revoked_at IS NULL", user_id
        )
        active = int(rows[0]["n"])
        if active >= limit:
            raise ApiKeyLimitReached(
                f"You already have {active} active API keys, the most allowed; revoke one first.", limit=limit
            )
        created = await ApiKey.raw(
            "INSERT INTO api_key (id, user_id, name, prefix, key_hash, scope, created_at) "
            "VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, clock_timestamp()) RETURNING " + _COLUMNS,
            user_id,
            name,
            new.prefix,
            new.hash,
            scope.value,
        )
    return ApiKeyRow.from_record(created[0])


async def list_active(user_id: str) -> list[ApiKeyRow]:
    rows = await ApiKey.raw(
        "SELECT " + _COLUMNS + " FROM api_key WHERE user_id = {} AND revoked_at IS NULL ORDER BY created_at, id",
        user_id,
    )
    return [ApiKeyRow.from_record(r) for r in rows]


async def revoke(key_id: uuid.UUID, user_id: str) -> ApiKeyRow | None:
    """None when the user has no such active key (another user's key is not found either)."""
    rows = await ApiKey.raw(
        "UPDATE api_key SET revoked_at = now() WHERE id = {} AND user_id = {} AND revoked_at IS NULL "
        "RETURNING " + _COLUMNS,
        key_id,
        user_id,
    )
    return ApiKeyRow.from_record(rows[0]) if rows else None


async def owner_of(key_hash: str) -> KeyOwner | None:
    """The active key with this hash, or None (unknown or revoked)."""
    rows = await ApiKey.raw(
        "SELECT id, user_id, scope, last_used_at FROM api_key WHERE key_hash = {} AND revoked_at IS NULL", key_hash
    )
    if not rows:
        return None
    return KeyOwner(
        key_id=rows[0]["id"],
        user_id=rows[0]["user_id"],
        scope=ApiKeyScope(rows[0]["scope"]),
        last_used_at=rows[0]["last_used_at"],
    )


def touch_due(owner: KeyOwner, now: dt.datetime) -> bool:
    return owner.last_used_at is None or (now - owner.last_used_at).total_seconds() >= TOUCH_INTERVAL_S


async def touch(key_id: uuid.UUID) -> None:
    """Record a use; the condition makes concurrent requests of several API processes write once."""
    await ApiKey.raw(
        "UPDATE api_key SET last_used_at = now() WHERE id = {} "
        "AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => {}))",
        key_id,
        TOUCH_INTERVAL_S,
    )
