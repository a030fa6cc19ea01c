"""Piccolo configuration, found through ``PICCOLO_CONF=db.piccolo_conf``.

Importing this module makes no connection: see :class:`QuietPostgresEngine`.
"""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from core.settings import get_settings
from db.dsn import dsn_to_config


class QuietPostgresEngine(PostgresEngine):
    """A PostgresEngine that does no I/O when constructed.

    Piccolo's engine connects from ``__init__`` to read the server version and create extensions,
    i.e. at import time of this file, before settings or the event loop are ready. We need neither
    (PostgreSQL 13+ has ``gen_random_uuid`` built in); readiness checks the database instead.
    """

    async def check_version(self) -> None:
        return None

    async def prep_database(self) -> None:
        return None


DB = QuietPostgresEngine(config=dsn_to_config(get_settings().database_url), log_queries=False)

APP_REGISTRY = AppRegistry(apps=["db.piccolo_app"])
