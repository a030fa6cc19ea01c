"""Every problem+json also carries ``error``, the sentence of ``detail``: the original Lumiku clients show
``response.data.error`` and nothing else."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from tests.support.api_client import API
from tests.support.tokens import auth, token


async def test_problems_carry_error_beside_title_detail_and_code(client: Any, settings: Settings) -> None:
    headers = auth(token(settings, "u-problem"))
    answers = [
        await client.get(API + "/stats"),  # 401 from the authentication middleware
        await client.get(API + "/jobs/00000000-0000-0000-0000-000000000000", headers=headers),  # 404
        await client.post(API + "/subscription", json={"plan": "gold"}, headers=headers),  # 422
        await client.get(API + "/jobs?limit=0", headers=headers),  # 400 validation
        await client.get(API + "/nope", headers=headers),  # routing 404
    ]
    for r in answers:
        body = r.json()
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
        assert body["error"] == body["detail"] and body["error"], body
        assert {"type", "title", "status", "code", "requestId"} <= set(body)
