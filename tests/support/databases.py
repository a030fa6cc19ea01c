"""Creating, migrating and dropping throw-away databases for tests."""

from __future__ import annotations

import os
import uuid

import asyncpg

from db.dsn import database_name, with_database
from db.migrations import MigrateResult, apply_migrations


def scratch_dsn(dsn: str) -> str:
    return with_database(dsn, f"{database_name(dsn)}_s{uuid.uuid4().hex[:8]}")


async def create_database(dsn: str) -> None:
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{database_name(dsn)}"')
    finally:
        await conn.close()


async def drop_database(dsn: str) -> None:
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(dsn)}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate(dsn: str) -> MigrateResult:
    """Apply migrations to ``dsn``. Piccolo migrates the database of DATABASE_URL, so point it there."""
    if dsn != os.environ["DATABASE_URL"]:
        raise ValueError("Piccolo migrates the database of DATABASE_URL; use a subprocess for another one")
    return await apply_migrations(dsn)
