"""``python -m db.cli {migrate,status,check-migrations}``: thin wrappers that print and set the exit code.

- ``migrate``: create the database if it does not exist, wait for PostgreSQL (``--wait`` seconds),
  then apply pending migrations under an advisory lock. Safe to run from several processes at once.
- ``status``: list pending migrations, missing tables and indexes; exit 1 when the schema is behind.
- ``check-migrations``: exit 1 when a Table class differs from what the migrations build (no database needed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import sys
import time

import asyncpg

from core.settings import get_settings
from db.dsn import database_name, with_database


async def ensure_database(dsn: str, *, wait_s: float) -> None:
    """Wait until PostgreSQL answers, then create the target database when it is missing."""
    deadline = time.monotonic() + wait_s
    name = database_name(dsn)
    while True:
        try:
            conn = await asyncpg.connect(with_database(dsn, "postgres"), timeout=5)
            break
        except (OSError, TimeoutError, asyncpg.exceptions.CannotConnectNowError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"PostgreSQL is not reachable at {with_database(dsn, '')}: {exc}") from exc
            await asyncio.sleep(1)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.exceptions.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
                print(f"created database {name}")
    finally:
        await conn.close()


async def _migrate(wait_s: float) -> int:
    from db.migrations import apply_migrations

    dsn = get_settings().database_url
    await ensure_database(dsn, wait_s=wait_s)
    result = await apply_migrations(dsn)
    for migration_id in result.applied:
        print(f"applied {migration_id}")
    print(result.message)
    return 0 if result.success else 1


async def _status() -> int:
    from db.schema_status import schema_status

    dsn = get_settings().database_url
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except asyncpg.exceptions.InvalidCatalogNameError:
        print(f"database {database_name(dsn)} does not exist (run `make migrate`)")
        return 1
    except (OSError, TimeoutError) as exc:
        print(f"PostgreSQL is not reachable: {exc}")
        return 1
    try:
        status = await schema_status(conn)
    finally:
        await conn.close()
    print(status.describe())
    return 0 if status.ready else 1


async def _check_migrations() -> int:
    from db.migrations import drift

    # Piccolo prints a summary table while diffing; only the verdict matters here.
    with contextlib.redirect_stdout(io.StringIO()):
        statements = await drift()
    if statements:
        print("Table classes differ from the migrations. Create one with `make migration DESC='...'`:")
        for statement in statements:
            print(f"  {statement}")
        return 1
    print("migrations match the Table classes")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db.cli", description=__doc__.splitlines()[0] if __doc__ else "")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply pending migrations (creates the database if needed)")
    migrate.add_argument("--wait", type=float, default=30.0, help="seconds to wait for PostgreSQL (default 30)")
    sub.add_parser("status", help="pending migrations, missing tables and indexes")
    sub.add_parser("check-migrations", help="fail when Table classes and migrations differ")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return asyncio.run(_migrate(args.wait))
    if args.command == "status":
        return asyncio.run(_status())
    return asyncio.run(_check_migrations())


if __name__ == "__main__":
    sys.exit(main())
