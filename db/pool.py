"""The process's PostgreSQL connection pool (API and worker), without asyncpg's per-release reset.

asyncpg's pool sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` every time a
connection goes back to it, and Piccolo takes a connection per statement outside a transaction: a
second round trip for every query (three of the fourteen of ``POST /jobs``, half of ``GET /jobs/{id}``).
Our code leaves nothing in a session for that query to undo: locks are transaction-scoped
(``pg_advisory_xact_lock``; the migration lock uses a connection of its own), nothing runs ``SET``,
``LISTEN`` or ``DECLARE ... WITH HOLD``. What asyncpg still does on release, without a round trip
unless there is something to undo, is roll back a transaction left open and drop listeners.
"""

from __future__ import annotations

import asyncpg

from db.piccolo_conf import DB


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    return None


async def start_pool(*, min_size: int, max_size: int) -> None:
    """Raises ``OSError`` (or ``TimeoutError``) when the pool cannot open, the server's refusals included
    (``too many connections``), so that callers can fall back to a connection per query."""
    try:
        await DB.start_connection_pool(min_size=min(min_size, max_size), max_size=max_size, reset=_nothing_to_reset)
    except asyncpg.PostgresError as exc:
        raise ConnectionError(f"PostgreSQL refused the pool's connections: {exc}") from exc


async def close_pool() -> None:
    await DB.close_connection_pool()
