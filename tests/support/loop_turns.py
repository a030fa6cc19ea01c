"""How often another task got the event loop while some awaited work ran: proof that the work let other
requests in (as the API's single event loop must) instead of holding the loop until it was done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class LoopTurns:
    count: int = 0


@asynccontextmanager
async def other_tasks_turns() -> AsyncIterator[LoopTurns]:
    """Counts the turns a busy neighbour task gets while the ``async with`` body runs."""
    turns = LoopTurns()

    async def neighbour() -> None:
        while True:
            turns.count += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(neighbour())
    await asyncio.sleep(0)
    turns.count = 0
    try:
        yield turns
    finally:
        task.cancel()
