"""Buying subscription periods over HTTP: the ``Idempotency-Key`` record, the ledger charge and the
subscription row commit together or not at all.

A refused purchase (402, 409) rolls its idempotency record back with it, so a retry with the same
key is evaluated afresh; a concurrent duplicate waits on the record's unique index and replays the
first answer (see :mod:`db.idempotency`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Response

from api.schemas import SubscriptionMessage, subscription_out
from db import idempotency
from db.piccolo_conf import DB
from db.subscriptions import SubscriptionRow


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: Any
    replayed: bool

    def response(self) -> Response[Any]:
        headers = {"Idempotent-Replayed": "true"} if self.replayed else {}
        return Response(content=self.body, status_code=self.status_code, headers=headers)


def envelope(row: SubscriptionRow, message: str) -> Any:
    """The JSON body of a purchase: the subscription as ``GET /subscription`` shows it, and a sentence."""
    return msgspec.to_builtins(SubscriptionMessage(message=message, subscription=subscription_out(row, active=True)))


async def once(
    *,
    user_id: str,
    endpoint: str,
    idempotency_key: str | None,
    request: list[bytes | str],
    status_code: int,
    message: str,
    buy: Callable[[], Awaitable[SubscriptionRow]],
) -> Answer:
    """Run ``buy`` in one transaction; with a key, only the first request with it runs ``buy``."""
    async with DB.transaction():
        record_id = None
        if idempotency_key:
            claimed = await idempotency.claim(
                user_id, endpoint, idempotency_key, idempotency.request_fingerprint(request)
            )
            if isinstance(claimed, idempotency.Replay):
                return Answer(claimed.status_code, claimed.body, replayed=True)
            record_id = claimed
        body = envelope(await buy(), message)
        if record_id is not None:
            await idempotency.complete(record_id, status_code, body, {})
    return Answer(status_code, body, replayed=False)
