"""Multi-column indexes for the queries the API makes (Piccolo columns cannot declare them).

The statements are frozen copies, not imports of ``db.tables.COMPOSITE_INDEXES``: a migration must
build the same schema forever, whatever the live code says later. ``db.schema_status`` checks that
every declared index exists.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-26T06:25:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite indexes"

INDEXES = {
    "background_removal_job_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS background_removal_job_user_created_idx "
        "ON background_removal_job (user_id, created_at DESC, id DESC)"
    ),
    "background_removal_job_pending_idx": (
        "CREATE INDEX IF NOT EXISTS background_removal_job_pending_idx "
        "ON background_removal_job (status, created_at) WHERE status IN ('pending', 'processing')"
    ),
    "background_removal_batch_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS background_removal_batch_user_created_idx "
        "ON background_removal_batch (user_id, created_at DESC, id DESC)"
    ),
    "background_remover_subscription_usage_sub_date_idx": (
        "CREATE INDEX IF NOT EXISTS background_remover_subscription_usage_sub_date_idx "
        "ON background_remover_subscription_usage (subscription_id, date)"
    ),
    "credit_ledger_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS credit_ledger_user_created_idx ON credit_ledger (user_id, created_at)"
    ),
}


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bgremover", description=DESCRIPTION)

    async def create():
        for statement in INDEXES.values():
            await RawTable.raw(statement)

    async def drop():
        for name in INDEXES:
            await RawTable.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
