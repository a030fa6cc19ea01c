"""A full disk is the operator's problem, and says so: ``507 insufficient_storage``, nothing charged.

Before, the ``OSError`` (ENOSPC) of the storage write fell into the database bucket and clients were
told ``503 database_unavailable``, sending operators after the wrong system. The storage directory is
a 64 KiB tmpfs here, so writes really fail with ENOSPC.
"""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits
from tests.support.images import variant
from tests.support.tokens import auth, token

API = "/api/background-remover"


@pytest.fixture
def tiny_storage(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 64 KiB tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("route", ["jobs", "batches"])
async def test_a_full_storage_disk_is_507_and_charges_nothing(
    migrated_db: str, settings: Settings, tiny_storage: Path, route: str
) -> None:
    user = f"user-{uuid.uuid4().hex[:10]}"
    await credits.grant(user, 100, reason="test", entry_key=f"test-grant:{user}")
    headers = auth(token(settings, user))
    if route == "jobs":
        files: list[tuple[str, tuple[str, bytes, str]]] = [("image", ("a.jpg", variant(settings, 0), "image/jpeg"))]
    else:
        files = [("images[]", (f"{i}.jpg", variant(settings, i), "image/jpeg")) for i in range(2)]
    app = create_app(dataclasses.replace(settings, storage_dir=tiny_storage))
    async with AsyncTestClient(app=app) as client:
        r = await client.post(f"{API}/{route}", files=files, data={"tier": "basic"}, headers=headers)
        assert r.status_code == 507, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "insufficient_storage"
        assert body["status"] == 507
        assert "nothing was charged" in body["detail"]
        assert str(tiny_storage) not in r.text
        balance = await client.get(f"{API}/credits/balance", headers=headers)
        assert balance.json()["balance"] == 100
        listed = await client.get(f"{API}/{route}", headers=headers)
        assert listed.json()[route] == []
