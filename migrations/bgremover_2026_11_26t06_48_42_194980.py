"""Partial index for counting a user's pending and processing images (the per-user queue cap)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-26T06:48:42:194980"
VERSION = "1.38.0"
DESCRIPTION = "index for per-user queued images"

NAME = "background_removal_job_user_unfinished_idx"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {NAME} "
    "ON background_removal_job (user_id) WHERE status IN ('pending', 'processing')"
)


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bgremover", description=DESCRIPTION)

    async def create():
        await RawTable.raw(CREATE)

    async def drop():
        await RawTable.raw(f"DROP INDEX IF EXISTS {NAME}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
