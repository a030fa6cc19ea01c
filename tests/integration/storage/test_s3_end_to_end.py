"""``STORAGE_URL=s3://`` end to end, with no shared disk: the API and the worker run as real processes,
each with its own empty working directory and ``STORAGE_DIR``, and meet only through PostgreSQL, Redis
and a real S3-compatible server. A job's result and a batch's ZIP come back byte for byte, through the
bearer-token routes and the signed links; retention deletes the objects."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from pathlib import Path

import asyncpg
import httpx
import pytest

from core.settings import Settings
from core.storage import open_storage
from tests.support.images import variant
from tests.support.invariants import assert_money_is_right, wait_all_final
from tests.support.processes import api_server, env_with, worker_process
from tests.support.s3_server import S3Server
from worker.sweeps import run_retention

API = "/api/background-remover"

pytestmark = pytest.mark.models


def host_env(s3: S3Server, bucket: str, home: Path) -> dict[str, str]:
    home.mkdir(parents=True)
    return env_with(
        **s3.env(bucket),
        QUEUE_NAME=f"bgremover:s3e2e:{uuid.uuid4().hex[:8]}",
        STORAGE_DIR=str(home / "storage"),
        WORKER_TIERS="basic",
        SWEEP_INTERVAL_S="2",
        REQUEUE_AFTER_S="2",
    )


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


async def test_a_job_and_a_batch_go_through_object_storage_with_no_shared_disk(
    settings: Settings, s3_server: S3Server, make_user, migrated_db: str, tmp_path: Path
) -> None:
    bucket = s3_server.create_bucket()
    api_home, worker_home = tmp_path / "api-host", tmp_path / "worker-host"
    api_env = host_env(s3_server, bucket, api_home)
    worker_env = {**host_env(s3_server, bucket, worker_home), "QUEUE_NAME": api_env["QUEUE_NAME"]}
    user = await make_user(100)
    images = [variant(settings, i, size=(480, 320)) for i in range(3)]
    worker_log = tmp_path / "worker.log"
    with api_server(api_env, cwd=api_home) as base, worker_process(worker_env, worker_log, cwd=worker_home):
        job = httpx.post(
            base + API + "/jobs",
            files={"image": ("one.jpg", images[0], "image/jpeg")},
            data={"tier": "basic"},
            headers=user.headers,
            timeout=30,
        )
        assert job.status_code == 202, job.text
        batch = httpx.post(
            base + API + "/batches",
            files=[("images[]", (f"b{i}.jpg", img, "image/jpeg")) for i, img in enumerate(images)],
            data={"tier": "basic"},
            headers=user.headers,
            timeout=30,
        )
        assert batch.status_code == 202, batch.text
        rows = await wait_all_final(migrated_db, [user.id], timeout_s=180)
        assert [r["status"] for r in rows] == ["completed"] * 4, (tmp_path / "worker.log").read_text()[-3000:]

        detail = httpx.get(base + API + f"/jobs/{job.json()['id']}", headers=user.headers, timeout=30).json()
        result = httpx.get(base + detail["links"]["result"], headers=user.headers, timeout=30)
        assert result.status_code == 200
        assert result.headers["content-type"] == "image/png"
        assert result.headers["content-length"] == str(len(result.content))
        assert result.headers["content-disposition"].startswith("inline;")
        assert result.content.startswith(b"\x89PNG")
        signed = httpx.get(base + detail["links"]["download"], timeout=30)
        assert signed.status_code == 200
        assert signed.content == result.content
        assert signed.headers["cache-control"].startswith("private")

        batch_url = base + API + f"/batches/{batch.json()['id']}"
        for _ in range(120):
            info = httpx.get(batch_url, headers=user.headers, timeout=30).json()
            if info["status"] != "processing":
                break
            time.sleep(0.5)
        assert info["status"] == "completed", info
        archive = httpx.get(batch_url + "/download", headers=user.headers, timeout=30)
        assert archive.status_code == 200
        with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
            names = z.namelist()
            assert len(names) == 3
            assert all(z.read(n).startswith(b"\x89PNG") for n in names)
        assert httpx.get(base + info["links"]["download"], timeout=30).content == archive.content

    # Nothing went through either process's local disk.
    assert files_under(api_home) == [] and files_under(worker_home) == []
    await assert_money_is_right(migrated_db, [user.id])

    # Retention deletes the objects: the result answers 410 afterwards.
    s3_settings = Settings(
        storage_url=f"s3://{bucket}/objects",
        s3_endpoint_url=s3_server.endpoint,
        s3_access_key_id="x",
        s3_secret_access_key="y",
        s3_path_style=True,
    )
    storage = open_storage(s3_settings)
    conn = await asyncpg.connect(migrated_db)
    try:
        output_key = await conn.fetchval(
            "SELECT output_key FROM background_removal_job WHERE id = $1", uuid.UUID(job.json()["id"])
        )
        await conn.execute(
            "UPDATE background_removal_job SET finished_at = now() - make_interval(days => $2) WHERE user_id = $1",
            user.id,
            settings.result_retention_days + 1,
        )
    finally:
        await conn.close()
    assert await storage.exists(output_key)
    done = await run_retention(s3_settings, storage)
    assert done["files"] >= 4
    assert not await storage.exists(output_key)
    assert await storage.keys_older_than("zips", 0) != [] and await storage.keys_older_than("zips", 3600) == []
    assert await storage.keys_older_than("inputs", 0) == []
