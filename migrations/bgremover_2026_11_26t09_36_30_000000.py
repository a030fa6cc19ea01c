"""Indexes of the webhook delivery log: a user's recent deliveries, and the deliveries still retrying
(counted per user and in total before each new delivery, so the count must stay cheap).

Frozen copies of ``db.tables.COMPOSITE_INDEXES`` entries, as in the other raw index migrations.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-26T09:36:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhook delivery indexes"

INDEXES = {
    "webhook_delivery_user_created_idx": (
        "CREATE INDEX IF NOT EXISTS webhook_delivery_user_created_idx "
        "ON webhook_delivery (user_id, created_at DESC, id DESC)"
    ),
    "webhook_delivery_retrying_idx": (
        "CREATE INDEX IF NOT EXISTS webhook_delivery_retrying_idx "
        "ON webhook_delivery (user_id, updated_at) WHERE status = 'retrying'"
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
