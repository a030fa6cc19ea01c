"""arq's attempt counter, read by the tasks of both workers (the inference worker's and the webhook
worker's, which share no context)."""

from __future__ import annotations

from typing import Any


def job_try(ctx: dict[str, Any]) -> int:
    """arq's attempt counter for the running task, from 1."""
    return int(ctx.get("job_try", 1))
