"""Waiting, bounded, for a job to finish: the original ``POST /remove`` answered once the image was done.

PostgreSQL is polled (it is the source of truth, and what a worker on another machine writes), starting
fast because a basic image takes a fraction of a second, then every half second.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from core.rows import JobRow
from db import jobs

_FIRST_POLL_S = 0.1
_MAX_POLL_S = 0.5


async def wait_for_job(job_id: uuid.UUID, user_id: str, timeout_s: float) -> JobRow | None:
    """The job once final, or as it is when ``timeout_s`` runs out (None if it vanished)."""
    deadline = time.monotonic() + timeout_s
    pause = _FIRST_POLL_S
    while True:
        row = await jobs.get_job(job_id, user_id)
        left = deadline - time.monotonic()
        if row is None or not row.unfinished or left <= 0:
            return row
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 1.5, _MAX_POLL_S)
