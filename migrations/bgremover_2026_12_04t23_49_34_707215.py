from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Check

ID = "2026-12-04T23:49:34:707215"
VERSION = "1.38.0"
DESCRIPTION = "API key scopes and the actor of each grant"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bgremover", description=DESCRIPTION)

    manager.add_column(
        table_class_name="CreditLedgerEntry",
        tablename="credit_ledger",
        column_name="actor_method",
        db_column_name="actor_method",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
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
        table_class_name="CreditLedgerEntry",
        tablename="credit_ledger",
        column_name="actor_user_id",
        db_column_name="actor_user_id",
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

    manager.add_column(
        table_class_name="ApiKey",
        tablename="api_key",
        column_name="scope",
        db_column_name="scope",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": "basic",
            "null": False,
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

    manager.add_constraint(
        table_class_name="CreditLedgerEntry",
        tablename="credit_ledger",
        constraint_name="ledger_actor_method_valid",
        constraint_class=Check,
        params={"condition": "actor_method IS NULL OR \"actor_method\" IN ('token', 'cli')"},
        schema=None,
    )

    manager.add_constraint(
        table_class_name="ApiKey",
        tablename="api_key",
        constraint_name="api_key_scope_valid",
        constraint_class=Check,
        params={"condition": "\"scope\" IN ('basic', 'manage')"},
        schema=None,
    )

    return manager
