"""API keys as a client gets them: created through the API with a bearer token, then sent as ``X-Api-Key``."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.support.api_client import API, User


def key_header(key: str) -> dict[str, str]:
    return {"X-Api-Key": key}


async def create_key(client: AsyncTestClient, user: User, name: str = "", scope: str = "") -> dict[str, Any]:  # type: ignore[type-arg]
    """Created with the user's bearer token; ``scope`` empty leaves the service's default."""
    sent = {"name": name} if name else {}
    if scope:
        sent["scope"] = scope
    r = await client.post(API + "/api-keys", json=sent or None, headers=user.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body
