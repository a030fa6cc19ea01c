"""Talking to the API as a client does: its path prefix, an authenticated user, uploads and the balance."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar.testing import AsyncTestClient

API = "/api/background-remover"


@dataclasses.dataclass
class User:
    id: str
    headers: dict[str, str]


async def submit(
    client: AsyncTestClient,  # type: ignore[type-arg]
    user: User,
    image: bytes,
    *,
    tier: str = "basic",
    filename: str = "photo.jpg",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    return await client.post(
        API + "/jobs",
        files={"image": (filename, image, "application/octet-stream")},
        data={"tier": tier, **fields},
        headers={**user.headers, **(headers or {})},
    )


async def webhook_secret(client: AsyncTestClient, user: User) -> str:  # type: ignore[type-arg]
    """Create (or rotate) the user's webhook signing secret through the API; the one time it is shown."""
    r = await client.post(API + "/webhooks/secret", headers=user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


async def balance(client: AsyncTestClient, user: User) -> int:  # type: ignore[type-arg]
    r = await client.get(API + "/credits/balance", headers=user.headers)
    assert r.status_code == 200
    return int(r.json()["balance"])
