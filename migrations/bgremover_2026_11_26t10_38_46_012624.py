from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-26T10:38:46:012624"
VERSION = "1.38.0"
DESCRIPTION = "name of a batch"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="bgremover", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="BackgroundRemovalBatch",
        tablename="background_removal_batch",
        column_name="name",
        db_column_name="name",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 255,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
