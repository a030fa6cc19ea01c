"""Waiting for one job to reach its final state, bounded, for routes that answer synchronously.

The worker pushes to :func:`core.tasks.done_key` when a single job becomes final; the waiter blocks on
it (``BLPOP``) in slices of at most a second and reads the job row after each, so it wakes as soon as
the job is done, never trusts Redis alone (the row decides), and still notices a job finished without a
signal (cancelled through the API, settled by a sweep, Redis restarted) within a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import NotFound
from core.rows import JobRow
from core.tasks import done_key
from db import jobs

log = logging.getLogger("bgremover.api")

# below the API's Redis socket timeout (2 s), so a blocked BLPOP is never mistaken for a dead connection
_SLICE_S = 1.0


async def wait_until_final(redis: Redis, queue_name: str, job_id: uuid.UUID, user_id: str, timeout_s: float) -> JobRow:
    """The job's row once final, or as it is when ``timeout_s`` ran out (check ``row.unfinished``)."""
    deadline = time.monotonic() + timeout_s
    key = done_key(queue_name, job_id)
    while True:
        row = await jobs.get_job(job_id, user_id)
        if row is None:
            raise NotFound(f"No job {job_id}.", resource="job")
        left = deadline - time.monotonic()
        if not row.unfinished or left <= 0:
            return row
        try:
            # redis-py types BLPOP's timeout as whole seconds; Redis ≥ 6 takes fractions, which keep the bound exact
            await redis.blpop([key], timeout=min(_SLICE_S, left))  # type: ignore[arg-type,misc]
        except (RedisError, OSError) as exc:  # Redis down: keep reading the row, once a second
            log.warning("job %s: cannot wait on Redis (%r); polling the database", job_id, exc)
            await asyncio.sleep(min(_SLICE_S, left))
