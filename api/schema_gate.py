"""Refuse to serve against a schema that is behind the code.

The API may start before ``make migrate`` (compose starts services together); until the schema is
current every API route answers ``503 schema_not_ready`` naming the pending migrations, and once an
operator migrates, the gate opens by itself without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from core.errors import DatabaseUnavailable, SchemaNotReady
from db.schema_status import SchemaStatus, schema_status

log = logging.getLogger("bgremover.api")


async def read_schema_status(dsn: str, timeout_s: float) -> SchemaStatus:
    """Schema status over a dedicated short-lived connection (never the request pool)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.exceptions.InterfaceError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {type(exc).__name__}") from exc
    try:
        return await asyncio.wait_for(schema_status(conn), timeout=timeout_s)
    except (OSError, TimeoutError, asyncpg.exceptions.InterfaceError) as exc:
        raise DatabaseUnavailable(f"the database stopped answering: {type(exc).__name__}") from exc
    finally:
        conn.terminate()


class SchemaGate:
    """Caches the last schema status: re-read every ``ok_ttl_s`` while current, every ``behind_ttl_s`` while not."""

    def __init__(self, dsn: str, timeout_s: float, ok_ttl_s: float = 30.0, behind_ttl_s: float = 2.0) -> None:
        self.dsn = dsn
        self.timeout_s = timeout_s
        self.ok_ttl_s = ok_ttl_s
        self.behind_ttl_s = behind_ttl_s
        self.status: SchemaStatus | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self._failure: DatabaseUnavailable | None = None
        self._looked_at = 0.0

    async def recent(self, max_age_s: float = 1.0) -> SchemaStatus:
        """For readiness probes, which anyone may send: a current schema is re-read at most once per
        ``max_age_s``; while it is behind or unreachable each probe looks again (an operator waits for
        that answer), but probes arriving together share one look."""
        arrived = time.monotonic()
        async with self._lock:
            if self._looked_at >= arrived:  # another probe looked while this one waited
                if self._failure is not None:
                    raise self._failure
                if self.status is not None:
                    return self.status
            if self.status is not None and self.status.ready and arrived - self._checked_at <= max_age_s:
                return self.status
            try:
                self._failure = None
                return await self._refresh_locked()
            except DatabaseUnavailable as exc:
                self._failure = exc
                raise
            finally:
                self._looked_at = time.monotonic()

    def expire(self) -> None:
        """A request just found the database unreachable: the next probe must look, not trust the cache."""
        self._checked_at = 0.0

    def invalidate(self) -> None:
        self._checked_at = 0.0
        self.status = None

    def _fresh(self) -> SchemaStatus | None:
        status = self.status
        ttl = self.ok_ttl_s if status is not None and status.ready else self.behind_ttl_s
        if status is None or time.monotonic() - self._checked_at > ttl:
            return None
        return status

    async def refresh(self) -> SchemaStatus:
        async with self._lock:
            return await self._refresh_locked()

    async def _refresh_locked(self) -> SchemaStatus:
        status = await read_schema_status(self.dsn, self.timeout_s)
        if status.ready and (self.status is None or not self.status.ready):
            log.info("database schema is current; serving")
        elif not status.ready:
            log.error("database schema is behind; refusing API requests: %s", status.describe())
        self.status = status
        self._checked_at = time.monotonic()
        return status

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._background_refresh())

    async def _background_refresh(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # the next request that needs a fresh answer awaits it and reports it
            log.warning("background schema check failed: %r", exc)
            self.invalidate()

    async def require_ready(self) -> None:
        status = self._fresh()
        if status is None and self.status is not None and self.status.ready:
            # Current a moment ago: keep serving while a background check confirms it, so no request
            # pays for the periodic check.
            self._refresh_in_background()
            status = self.status
        if status is None:
            async with self._lock:
                # Requests that queued on the lock while another refreshed use its answer: one schema
                # check per period, not one per waiting request.
                status = self._fresh() or await self._refresh_locked()
        if not status.ready:
            # Clients get the gist; operators get table and index names from readiness and the log.
            raise SchemaNotReady(
                "The service is not ready: its database schema is behind this version; an operator must run "
                "the migrations (`make migrate`).",
                pendingMigrations=status.pending_migrations,
                retry_after=10,
            )
