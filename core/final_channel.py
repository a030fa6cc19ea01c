"""The pub/sub channel on which a job's (or a batch's) id is published when it reaches its final state:
the worker (or a cancelling API) signals, and each API process's waiters (long polls, the synchronous
routes; :mod:`api.final_signals`) wake at once instead of polling the database."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis


def final_channel(queue_name: str) -> str:
    """The pub/sub channel on which a job's (or a batch's) id is published when it reaches its final
    state, so that requests waiting for it (long polls, the synchronous remove.bg route) wake at once
    instead of polling the database. Each API process holds one subscription for all its waiters."""
    return f"{queue_name}:final"


def final_message(kind: str, object_id: uuid.UUID | str) -> str:
    return f"{kind}:{object_id}"


async def signal_final(redis: Redis, queue_name: str, kind: str, object_id: uuid.UUID | str) -> None:
    """``kind`` is ``job`` or ``batch``. Fire and forget: a waiter also re-reads the row now and then."""
    await redis.publish(final_channel(queue_name), final_message(kind, object_id))
