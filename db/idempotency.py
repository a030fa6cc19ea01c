"""``Idempotency-Key`` on POSTs: the same key and body give the first answer again, and charge once.

The record is inserted in the same transaction as the work it guards, so a request that fails
leaves no record (a retry is evaluated afresh) and a concurrent duplicate waits on the unique index
until the first commits, then replays its answer.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from core.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidOptions
from db.piccolo_conf import DB
from db.tables import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str]


def request_fingerprint(parts: list[bytes | str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidOptions(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters", parameter="Idempotency-Key"
        )
    return key


async def claim(user_id: str, endpoint: str, key: str, request_hash: str) -> uuid.UUID | Replay:
    """Inside a transaction: the new record's id to complete later, or the earlier answer to replay."""
    rows = await IdempotencyRecord.raw(
        "INSERT INTO idempotency_record (id, user_id, endpoint, key, request_hash, created_at) "
        "VALUES (gen_random_uuid(), {}, {}, {}, {}, now()) "
        "ON CONFLICT (user_id, endpoint, key) DO NOTHING RETURNING id",
        user_id,
        endpoint,
        key,
        request_hash,
    )
    if rows:
        return uuid.UUID(str(rows[0]["id"]))
    existing = await IdempotencyRecord.raw(
        "SELECT request_hash, status_code, response FROM idempotency_record "
        "WHERE user_id = {} AND endpoint = {} AND key = {}",
        user_id,
        endpoint,
        key,
    )
    if not existing:  # expired and deleted between the two statements
        raise IdempotencyInProgress("A request with this Idempotency-Key is being processed; retry shortly.")
    record = existing[0]
    if record["request_hash"] != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; use a new key for a new request."
        )
    if record["status_code"] is None:
        raise IdempotencyInProgress("A request with this Idempotency-Key is being processed; retry shortly.")
    stored = record["response"]
    payload = msgspec.json.decode(stored) if isinstance(stored, str | bytes) else stored
    return Replay(int(record["status_code"]), payload["body"], payload.get("headers", {}))


async def complete(record_id: uuid.UUID, status_code: int, body: Any, headers: dict[str, str]) -> None:
    payload = msgspec.json.encode({"body": body, "headers": headers}).decode()
    await IdempotencyRecord.raw(
        "UPDATE idempotency_record SET status_code = {}, response = {}::jsonb WHERE id = {}",
        status_code,
        payload,
        record_id,
    )


@dataclass(frozen=True)
class Done:
    """What the guarded work answered (and, with a key, recorded for replays)."""

    body: Any
    headers: dict[str, str]


async def once(
    user_id: str,
    endpoint: str,
    key: str | None,
    fingerprint: str,
    status_code: int,
    work: Callable[[], Awaitable[tuple[Any, dict[str, str]]]],
) -> Done | Replay:
    """Run ``work`` (which answers a body and headers) in one transaction with its idempotency record:
    with a ``key``, only the first request with it runs ``work``, and a repeat gets its answer back
    (:class:`Replay`); without one, ``work`` simply runs. Whatever ``work`` raises rolls the record
    back with it, so a retry with the same key is evaluated afresh."""
    async with DB.transaction():
        record_id = None
        if key:
            claimed = await claim(user_id, endpoint, key, fingerprint)
            if isinstance(claimed, Replay):
                return claimed
            record_id = claimed
        body, headers = await work()
        if record_id is not None:
            await complete(record_id, status_code, body, headers)
    return Done(body, headers)


async def purge_older_than(hours: int) -> int:
    rows = await IdempotencyRecord.raw(
        "DELETE FROM idempotency_record WHERE created_at < now() - make_interval(hours => {}) RETURNING id", hours
    )
    return len(rows)
