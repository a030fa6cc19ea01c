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

    async def work() -> tuple[Any, dict[str, str]]:
        return envelope(await buy(), message), {}

    fingerprint = idempotency.request_fingerprint(request)
    outcome = await idempotency.once(user_id, endpoint, idempotency_key, fingerprint, status_code, work)
    if isinstance(outcome, idempotency.Replay):
        return Answer(outcome.status_code, outcome.body, replayed=True)
    return Answer(status_code, outcome.body, replayed=False)
