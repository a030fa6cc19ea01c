"""The webhook delivery log: one row per job or batch event, updated after every attempt.

It tells a user why a delivery failed (``GET /webhooks/deliveries``), and its rows still ``retrying``
are the backlog that the pending caps bound, per user and in total.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal, cast

from core.statuses import WebhookKind
from db.tables import WebhookDelivery

DeliveryStatus = Literal["retrying", "delivered", "failed"]
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Delivery:
    kind: WebhookKind
    object_id: uuid.UUID
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Backlog:
    """Deliveries waiting for a retry: the user's, and everyone's."""

    user: int
    total: int


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        kind=cast(WebhookKind, row["kind"]),
        object_id=row["object_id"],
        status=cast(DeliveryStatus, row["status"]),
        attempts=int(row["attempts"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def record(
    user_id: str,
    kind: WebhookKind,
    object_id: uuid.UUID,
    status: DeliveryStatus,
    *,
    attempts: int,
    status_code: int | None = None,
    error: str | None = None,
) -> None:
    await WebhookDelivery.raw(
        "INSERT INTO webhook_delivery AS d (id, user_id, kind, object_id, status, attempts, last_status_code, "
        "last_error, created_at, updated_at) VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {}, {}, now(), now()) "
        "ON CONFLICT (kind, object_id) DO UPDATE SET status = EXCLUDED.status, attempts = EXCLUDED.attempts, "
        "last_status_code = EXCLUDED.last_status_code, last_error = EXCLUDED.last_error, updated_at = now()",
        user_id,
        kind,
        object_id,
        status,
        attempts,
        status_code,
        error[:MAX_ERROR_LENGTH] if error else None,
    )


async def status_of(kind: WebhookKind, object_id: uuid.UUID) -> DeliveryStatus | None:
    """None until the event's first attempt was recorded."""
    rows = await WebhookDelivery.raw(
        "SELECT status FROM webhook_delivery WHERE kind = {} AND object_id = {}", kind, object_id
    )
    return cast(DeliveryStatus, rows[0]["status"]) if rows else None


async def backlog(user_id: str, *, active_within_s: int) -> Backlog:
    """Rows still ``retrying`` that had an attempt in the last ``active_within_s`` seconds.

    Older ones are no longer waiting for anything (their queue entry was lost with Redis), so they do not
    hold a place under the caps for ever.
    """
    rows = await WebhookDelivery.raw(
        "SELECT count(*) FILTER (WHERE user_id = {})::int AS mine, count(*)::int AS total FROM webhook_delivery "
        "WHERE status = 'retrying' AND updated_at > now() - make_interval(secs => {})",
        user_id,
        active_within_s,
    )
    return Backlog(user=int(rows[0]["mine"]), total=int(rows[0]["total"]))


async def recent(user_id: str, *, limit: int, object_id: uuid.UUID | None = None) -> list[Delivery]:
    """The user's deliveries, newest first; only those of one job or batch with ``object_id``."""
    rows = await WebhookDelivery.raw(
        "SELECT kind, object_id, status, attempts, last_status_code, last_error, created_at, updated_at "
        "FROM webhook_delivery WHERE user_id = {} AND ({}::uuid IS NULL OR object_id = {}) "
        "ORDER BY created_at DESC, id DESC LIMIT {}",
        user_id,
        object_id,
        object_id,
        limit,
    )
    return [_delivery(dict(r)) for r in rows]


async def purge_older_than(days: int) -> int:
    rows = await WebhookDelivery.raw(
        "DELETE FROM webhook_delivery WHERE updated_at < now() - make_interval(days => {}) RETURNING 1", days
    )
    return len(rows)
