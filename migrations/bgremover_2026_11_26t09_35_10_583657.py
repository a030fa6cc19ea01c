from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-26T09:35:10:583657"
VERSION = "1.38.0"
DESCRIPTION = "payment id of a subscription"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="bgremover", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="BackgroundRemoverSubscription",
        tablename="background_remover_subscription",
        column_name="payment_id",
        db_column_name="payment_id",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 255,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
