"""Is the database schema what this code expects? Used at API start-up, by readiness and by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from db.migrations import pending_migration_ids
from db.tables import COMPOSITE_INDEXES, TABLES


@dataclass(frozen=True)
class SchemaStatus:
    pending_migrations: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    missing_indexes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not (self.pending_migrations or self.missing_tables or self.missing_indexes)

    def describe(self) -> str:
        if self.ready:
            return "schema is up to date"
        parts = []
        if self.pending_migrations:
            parts.append(f"{len(self.pending_migrations)} pending migration(s): {', '.join(self.pending_migrations)}")
        if self.missing_tables:
            parts.append(f"missing table(s): {', '.join(self.missing_tables)}")
        if self.missing_indexes:
            parts.append(f"missing index(es): {', '.join(self.missing_indexes)}")
        return "; ".join(parts) + " (run `make migrate`)"


async def schema_status(conn: asyncpg.Connection) -> SchemaStatus:
    """Compare the live database with the migration files and the declared tables and indexes."""
    pending = await pending_migration_ids(conn)
    names = [t._meta.tablename for t in TABLES]
    rows = await conn.fetch(
        "SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass('public.' || quote_ident(name)) IS NULL",
        names,
    )
    missing_tables = [r["name"] for r in rows]
    present = await conn.fetch(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname = ANY($1::text[])",
        list(COMPOSITE_INDEXES),
    )
    present_names = {r["indexname"] for r in present}
    missing_indexes = [name for name in COMPOSITE_INDEXES if name not in present_names]
    return SchemaStatus(pending_migrations=pending, missing_tables=missing_tables, missing_indexes=missing_indexes)
