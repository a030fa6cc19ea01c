from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-26T10:28:55:757228"
VERSION = "1.38.0"
DESCRIPTION = "foreground box of a job result"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="bgremover", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="BackgroundRemovalJob",
        tablename="background_removal_job",
        column_name="foreground_height",
        db_column_name="foreground_height",
        column_class_name="Integer",
        column_class=Integer,
        params={
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

    manager.add_column(
        table_class_name="BackgroundRemovalJob",
        tablename="background_removal_job",
        column_name="foreground_left",
        db_column_name="foreground_left",
        column_class_name="Integer",
        column_class=Integer,
        params={
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

    manager.add_column(
        table_class_name="BackgroundRemovalJob",
        tablename="background_removal_job",
        column_name="foreground_top",
        db_column_name="foreground_top",
        column_class_name="Integer",
        column_class=Integer,
        params={
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

    manager.add_column(
        table_class_name="BackgroundRemovalJob",
        tablename="background_removal_job",
        column_name="foreground_width",
        db_column_name="foreground_width",
        column_class_name="Integer",
        column_class=Integer,
        params={
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
