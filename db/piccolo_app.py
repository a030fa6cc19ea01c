"""Piccolo app registration: the tables and the top-level ``migrations/`` folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from db.tables import TABLES

APP_NAME = "bgremover"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

APP_CONFIG = AppConfig(
    app_name=APP_NAME,
    migrations_folder_path=str(MIGRATIONS_DIR),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
