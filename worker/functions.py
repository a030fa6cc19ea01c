"""Small functions the main queue runs (images are :mod:`worker.processing`, deliveries the webhook
worker's :mod:`worker.notifications`). The API enqueues ids only; everything else is read from PostgreSQL."""

from __future__ import annotations

from typing import Any

from core.tasks import enqueue_webhook
from worker.context import context
from worker.notifications import webhook_kind


async def ping(ctx: dict[str, Any], payload: str = "") -> dict[str, str]:
    """Round trip through the queue: proves a worker is consuming, and which one."""
    return {"worker": context(ctx).worker_id, "payload": payload}


async def forward_to_webhook_queue(ctx: dict[str, Any], kind: str, object_id: str) -> dict[str, str]:
    """Registered under ``deliver_webhook`` on the main queue, where releases before the webhook queue
    put deliveries: they move to the webhook queue instead of running in an inference slot."""
    worker = context(ctx)
    await enqueue_webhook(worker.redis, worker.settings.queue_name, webhook_kind(kind), object_id)
    return {"status": "forwarded"}
