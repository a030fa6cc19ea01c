"""Programmatic migration entry points: apply, list pending, detect drift.

Each function returns a result and never exits; ``db.cli`` is the thin wrapper that prints and
sets the exit status (the same split as Piccolo's ``run_forwards`` and ``forwards``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import asyncpg
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import AppConfig

from db.piccolo_app import APP_CONFIG, APP_NAME

# Any fixed 64-bit number works; it only has to be the same in every process that migrates.
MIGRATION_LOCK_KEY = 0x6267_7265_6D76  # "bgremv"


@dataclass(frozen=True)
class MigrateResult:
    success: bool
    applied: list[str] = field(default_factory=list)
    message: str = ""


@cache
def migration_ids(app_config: AppConfig = APP_CONFIG) -> list[str]:
    """IDs of the migration files on disk, oldest first (read once per process: Piccolo's loader grows
    ``sys.path`` on every call)."""
    manager = BaseMigrationManager()
    modules = manager.get_migration_modules(str(app_config.migrations_folder_path))
    return list(manager.get_migration_ids(modules))


async def applied_migration_ids(conn: asyncpg.Connection, app_name: str = APP_NAME) -> list[str]:
    """IDs recorded in Piccolo's ``migration`` table; empty when the table does not exist yet."""
    exists = await conn.fetchval("SELECT to_regclass('public.migration') IS NOT NULL")
    if not exists:
        return []
    rows = await conn.fetch("SELECT name FROM migration WHERE app_name = $1 ORDER BY name", app_name)
    return [r["name"] for r in rows]


async def pending_migration_ids(conn: asyncpg.Connection) -> list[str]:
    applied = set(await applied_migration_ids(conn))
    return [m for m in migration_ids() if m not in applied]


async def apply_migrations(dsn: str, *, timeout_s: float = 10.0) -> MigrateResult:
    """Apply every pending migration, holding a PostgreSQL advisory lock.

    Piccolo takes no lock of its own: two processes migrating an empty database at once collide on
    ``CREATE TABLE``. The lock is held on a dedicated connection because Piccolo runs its statements
    on connections of its own.
    """
    conn = await asyncpg.connect(dsn, timeout=timeout_s)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            before = await pending_migration_ids(conn)
            if not before:
                return MigrateResult(success=True, message="no pending migrations")
            result = await run_forwards(app_name=APP_NAME)
            after = await pending_migration_ids(conn)
            applied = [m for m in before if m not in after]
            if not result.success or after:
                return MigrateResult(
                    success=False,
                    applied=applied,
                    message=f"{result.message or 'migration failed'}; still pending: {', '.join(after) or 'none'}",
                )
            return MigrateResult(success=True, applied=applied, message=f"applied {len(applied)} migration(s)")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await conn.close()


async def drift(app_config: AppConfig = APP_CONFIG) -> list[str]:
    """SQL that a new auto migration would contain: empty when the Table classes match the migrations.

    Works without a database: Piccolo diffs the classes against a snapshot rebuilt from the migration
    files. ``auto_input="n"`` answers Piccolo's "did you rename?" prompt instead of reading stdin.
    """
    manager = AutoMigrationManager(auto_input="n")
    alter = await manager.get_alter_statements(app_config=app_config)
    return [statement for item in alter for statement in item.statements]
