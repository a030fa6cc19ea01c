"""Tables, migrations and queries. PostgreSQL is the source of truth."""

import os

# Piccolo finds its engine through this variable at query time; every entry point (API, worker,
# CLI, tests) imports ``db``, so they all agree without each exporting it.
os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
