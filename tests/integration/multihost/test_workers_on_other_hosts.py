"""Workers on other hosts, proven: the API on one network namespace, two workers on two others, each
with its own empty disk; PostgreSQL, Redis and S3 (moto's server) reached only over the virtual network.
One worker host is cut off mid-batch (its link down, then every process on it killed): the batch
still finishes, every image is processed and charged once, and the ZIP downloads whole."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from core.settings import Settings
from tests.support.images import variant
from tests.support.invariants import assert_money_is_right, wait_all_final
from tests.support.netns import unavailable, virtual_network
from tests.support.processes import api_server, env_with, worker_process
from tests.support.s3_server import moto_server
from tests.support.tcp_proxy import tcp_proxy

API = "/api/background-remover"
IMAGES = 8

pytestmark = [pytest.mark.models, pytest.mark.skipif(bool(reason := unavailable()), reason=reason or "")]


def via(url: str, host: str, port: int) -> str:
    """The same DSN with its host and port replaced (what a process on another host connects to)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}{host}:{port}"))


async def fetch(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def wait_for_log(path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and text in path.read_text(errors="replace")):
        if time.monotonic() > deadline:
            tail = path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"
            raise AssertionError(f"{path.name}: no {text!r} after {timeout_s}s:\n{tail}")
        await asyncio.sleep(0.2)


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


async def test_a_batch_finishes_when_a_worker_host_is_cut_off_mid_batch(
    settings: Settings, make_user, migrated_db: str, tmp_path: Path
) -> None:
    user = await make_user(1000)
    images = [variant(settings, i, size=(640, 428)) for i in range(IMAGES)]
    redis, postgres = urlsplit(settings.redis_url), urlsplit(migrated_db)
    with (
        virtual_network(3) as net,
        tcp_proxy(postgres.hostname or "127.0.0.1", postgres.port or 5432, net.gateway) as pg,
        tcp_proxy(redis.hostname or "127.0.0.1", redis.port or 6379, net.gateway) as rd,
        moto_server(host=net.gateway, log_path=tmp_path / "moto.log") as s3,
    ):
        bucket = s3.create_bucket()
        api_host, kept_host, lost_host = net.hosts
        common = env_with(
            **s3.env(bucket),
            DATABASE_URL=via(migrated_db, net.gateway, pg.port),
            REDIS_URL=via(settings.redis_url, net.gateway, rd.port),
            QUEUE_NAME=f"bgremover:multihost:{uuid.uuid4().hex[:8]}",
            MODEL_DIR=str(settings.model_dir),
            WORKER_TIERS="basic",
            WORKER_HEARTBEAT_INTERVAL_S="1",
            WORKER_HEARTBEAT_TTL_S="3",
            SWEEP_INTERVAL_S="2",
            REQUEUE_AFTER_S="2",
            JOB_TIMEOUT_S="120",
        )
        homes = {name: tmp_path / name for name in ("api-host", "kept-host", "lost-host")}
        for home in homes.values():
            home.mkdir()

        def on(name: str) -> dict[str, str]:
            return {**common, "STORAGE_DIR": str(homes[name] / "storage"), "HOME": str(homes[name])}

        kept_log, lost_log = tmp_path / "kept-worker.log", tmp_path / "lost-worker.log"
        with (
            api_server(
                on("api-host"), 60, cwd=homes["api-host"], host=api_host.address, prefix=api_host.prefix
            ) as base,
            worker_process(on("kept-host"), kept_log, cwd=homes["kept-host"], prefix=kept_host.prefix),
            worker_process(on("lost-host"), lost_log, cwd=homes["lost-host"], prefix=lost_host.prefix) as lost,
        ):
            await wait_for_log(kept_log, "started on queue", 120)
            await wait_for_log(lost_log, "started on queue", 120)
            r = httpx.post(
                base + API + "/batches",
                files=[("images[]", (f"{i}.jpg", img, "image/jpeg")) for i, img in enumerate(images)],
                data={"tier": "basic"},
                headers=user.headers,
                timeout=60,
            )
            assert r.status_code == 202, r.text
            batch_id = uuid.UUID(r.json()["id"])

            # Cut the lost host while it holds a job, with part of the batch done.
            deadline = time.monotonic() + 180
            while True:
                held = await fetch(
                    migrated_db,
                    "SELECT id FROM background_removal_job WHERE batch_id = $1 AND status = 'processing' "
                    "AND worker_id LIKE $2",
                    batch_id,
                    f"%:{lost.pid}:%",
                )
                done = await fetch(
                    migrated_db,
                    "SELECT count(*) AS n FROM background_removal_job WHERE batch_id = $1 AND status = 'completed'",
                    batch_id,
                )
                if held and done[0]["n"] >= 2:
                    break
                assert time.monotonic() < deadline, lost_log.read_text()[-3000:]
                await asyncio.sleep(0.1)
            lost_host.cut()
            lost_host.kill_all()
            held_id = held[0]["id"]
            at_cut = await fetch(migrated_db, "SELECT status FROM background_removal_job WHERE id = $1", held_id)

            rows = await wait_all_final(migrated_db, [user.id], timeout_s=300)
            assert [r["status"] for r in rows] == ["completed"] * IMAGES, kept_log.read_text()[-4000:]
            deadline = time.monotonic() + 60
            while (batch := httpx.get(f"{base}{API}/batches/{batch_id}", headers=user.headers, timeout=30).json())[
                "status"
            ] == "processing":
                assert time.monotonic() < deadline, batch
                await asyncio.sleep(0.5)
            assert batch["status"] == "completed", batch
            assert batch["processedImages"] == IMAGES, batch
            archive = httpx.get(f"{base}{API}/batches/{batch_id}/download", headers=user.headers, timeout=60)
            assert archive.status_code == 200, archive.text
            with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
                names = z.namelist()
                assert len(names) == len(set(names)) == IMAGES
                assert all(z.read(n).startswith(b"\x89PNG") for n in names)

    # The job the lost host held was taken over and run again on the kept host (or it had just finished).
    held_row = (
        await fetch(migrated_db, "SELECT attempts, worker_id FROM background_removal_job WHERE id = $1", held_id)
    )[0]
    if at_cut[0]["status"] == "processing":
        assert held_row["attempts"] == 2, dict(held_row)
        assert f":{lost.pid}:" not in held_row["worker_id"]
    # Nobody wrote to a local disk: no code path assumed a shared filesystem.
    assert {name: files_under(home / "storage") for name, home in homes.items() if (home / "storage").exists()} == {}
    await assert_money_is_right(migrated_db, [user.id])
