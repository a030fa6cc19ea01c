"""An object store that does not answer: an upload is ``503 storage_unavailable`` with ``Retry-After``,
nothing is charged or recorded, and the answer does not leak the store's address."""

from __future__ import annotations

import dataclasses
import socket
import uuid

from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits
from tests.support.images import variant
from tests.support.tokens import auth, token

API = "/api/background-remover"


async def test_an_unreachable_store_is_503_and_charges_nothing(migrated_db: str, s3_settings: Settings) -> None:
    with socket.socket() as closed:  # a port nothing listens on: connections are refused at once
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings = dataclasses.replace(s3_settings, s3_endpoint_url=dead)
    user = f"user-{uuid.uuid4().hex[:10]}"
    await credits.grant(user, 100, reason="test", entry_key=f"test-grant:{user}")
    headers = auth(token(settings, user))
    async with AsyncTestClient(app=create_app(settings), timeout=60) as client:
        r = await client.post(
            f"{API}/jobs",
            files=[("image", ("a.jpg", variant(settings, 0), "image/jpeg"))],
            data={"tier": "basic"},
            headers=headers,
        )
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "storage_unavailable"
        assert "nothing was charged" in r.json()["detail"]
        assert r.headers["retry-after"]
        assert dead not in r.text
        assert (await client.get(f"{API}/credits/balance", headers=headers)).json()["balance"] == 100
        assert (await client.get(f"{API}/jobs", headers=headers)).json()["jobs"] == []
        ready = await client.get(f"{API}/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"]["ok"] is False
        assert dead not in ready.text
