"""Functions the queue runs. The API enqueues ids only; everything else is read from PostgreSQL."""

from __future__ import annotations

from typing import Any

from worker.context import context


async def ping(ctx: dict[str, Any], payload: str = "") -> dict[str, str]:
    """Round trip through the queue: proves a worker is consuming, and which one."""
    return {"worker": context(ctx).worker_id, "payload": payload}
