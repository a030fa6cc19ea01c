"""Migrations cannot be forgotten: drift fails the build, migrating is safe in parallel, readiness tells."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from piccolo.columns import Varchar
from piccolo.conf.apps import AppConfig

from db.migrations import drift, migration_ids
from db.piccolo_app import APP_CONFIG
from db.schema_status import schema_status
from db.tables import TABLES, BackgroundRemovalJob
from tests.support.processes import ROOT, env_with, run_module


async def test_the_table_classes_match_the_migrations() -> None:
    assert await drift() == []


async def test_drift_is_detected_when_a_table_gains_a_column_without_a_migration() -> None:
    drifted_job: Any = type(
        "BackgroundRemovalJob",
        (BackgroundRemovalJob,),
        {"__module__": __name__, "thumbnail_key": Varchar(length=512, null=True)},
    )
    # Piccolo's table subclass keeps the parent's tablename only when passed explicitly.
    drifted_job._meta.tablename = BackgroundRemovalJob._meta.tablename
    tables = [drifted_job if t is BackgroundRemovalJob else t for t in TABLES]
    config = AppConfig(
        app_name=APP_CONFIG.app_name,
        migrations_folder_path=APP_CONFIG.migrations_folder_path,
        table_classes=tables,
    )
    statements = await drift(config)
    assert any("thumbnail_key" in s for s in statements), statements


def test_check_migrations_cli_fails_on_a_drifted_copy_of_the_project(tmp_path: Path) -> None:
    """The real `make check-migrations` command, run on a copy whose tables.py was edited by hand."""
    for name in ("core", "db", "migrations"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    tables = tmp_path / "db" / "tables.py"
    source = tables.read_text()
    marker = "    attempts = Integer(null=False, default=0)\n"
    assert marker in source
    tables.write_text(source.replace(marker, marker + "    priority = Integer(null=False, default=0)\n"))
    env = env_with()
    env["PYTHONPATH"] = str(tmp_path)
    drifted = subprocess.run(
        [sys.executable, "-m", "db.cli", "check-migrations"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "priority" in drifted.stdout

    clean = run_module("db.cli", "check-migrations")
    assert clean.returncode == 0, clean.stdout + clean.stderr


async def test_concurrent_migrate_commands_on_an_empty_database_all_succeed(empty_db: str) -> None:
    env = env_with(DATABASE_URL=empty_db)

    def migrate() -> Any:
        return run_module("db.cli", "migrate", env=env)

    results = await asyncio.gather(*[asyncio.to_thread(migrate) for _ in range(3)])
    assert [r.returncode for r in results] == [0, 0, 0], [r.stdout + r.stderr for r in results]
    conn = await asyncpg.connect(empty_db)
    try:
        status = await schema_status(conn)
        ran = await conn.fetchval("SELECT count(*) FROM migration")
    finally:
        await conn.close()
    assert status.ready, status.describe()
    assert ran == len(migration_ids())


async def test_status_lists_pending_migrations_until_migrate_runs(empty_db: str) -> None:
    env = env_with(DATABASE_URL=empty_db)
    before = run_module("db.cli", "status", env=env)
    assert before.returncode == 1
    for migration_id in migration_ids():
        assert migration_id in before.stdout
    assert run_module("db.cli", "migrate", env=env).returncode == 0
    after = run_module("db.cli", "status", env=env)
    assert after.returncode == 0, after.stdout
    assert "up to date" in after.stdout


async def test_migrations_round_trip_forwards_backwards_forwards(empty_db: str) -> None:
    env = env_with(DATABASE_URL=empty_db, PICCOLO_CONF="db.piccolo_conf")
    assert run_module("db.cli", "migrate", env=env).returncode == 0
    back = subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "backwards", "bgremover", "all", "--auto_agree"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if back.returncode != 0 and "No module named piccolo.main" in back.stderr:
        pytest.skip("piccolo CLI entry point not importable as a module")
    assert back.returncode == 0, back.stdout + back.stderr
    conn = await asyncpg.connect(empty_db)
    try:
        assert (await schema_status(conn)).missing_tables
    finally:
        await conn.close()
    assert run_module("db.cli", "migrate", env=env).returncode == 0
    conn = await asyncpg.connect(empty_db)
    try:
        assert (await schema_status(conn)).ready
    finally:
        await conn.close()
