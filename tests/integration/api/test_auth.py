"""Bearer tokens: only a valid, unexpired token for our issuer and audience gets in."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.tokens import auth, token, unsigned_token

URL = "/api/background-remover/jobs"


async def test_a_valid_token_is_accepted(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    r = await client.get(URL, headers=auth(token(settings)))
    assert r.status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not_bearer",
        "garbage",
        "alg_none",
        "tampered",
        "wrong_key",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "no_sub",
        "no_exp",
        "empty_sub",
    ],
)
async def test_bad_tokens_get_401_problem_json(client: AsyncTestClient, settings: Settings, case: str) -> None:  # type: ignore[type-arg]
    good = token(settings)
    headers: dict[str, str]
    if case == "missing":
        headers = {}
    elif case == "not_bearer":
        headers = {"Authorization": f"Basic {good}"}
    elif case == "garbage":
        headers = auth("not-a-jwt")
    elif case == "alg_none":
        headers = auth(unsigned_token(settings))
    elif case == "tampered":
        header, payload, signature = good.split(".")
        other = token(settings, "mallory").split(".")[1]
        headers = auth(f"{header}.{other}.{signature}")
        assert payload != other
    elif case == "wrong_key":
        headers = auth(token(settings, key="someone-elses-secret-0123456789abcdef"))
    elif case == "expired":
        headers = auth(token(settings, exp=int(time.time()) - 60))
    elif case == "wrong_audience":
        headers = auth(token(settings, aud="another-service"))
    elif case == "wrong_issuer":
        headers = auth(token(settings, iss="https://evil.example"))
    elif case == "no_sub":
        headers = auth(token(settings, sub=None))
    elif case == "no_exp":
        headers = auth(token(settings, exp=None))
    else:
        headers = auth(token(settings, "   "))
    r = await client.get(URL, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "unauthorized"
    assert body["status"] == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_token_accepted_before_is_refused_once_it_expires(client: AsyncTestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    # the API remembers verified tokens: that memory must not outlive the token
    expiring = auth(token(settings, exp=int(time.time()) + 2))
    assert (await client.get(URL, headers=expiring)).status_code == 200
    assert (await client.get(URL, headers=expiring)).status_code == 200
    await asyncio.sleep(2.5)
    r = await client.get(URL, headers=expiring)
    assert r.status_code == 401, r.text


async def test_a_token_accepted_under_one_key_is_refused_by_a_service_with_another(
    client: AsyncTestClient,  # type: ignore[type-arg]
    settings: Settings,
) -> None:
    good = auth(token(settings))
    assert (await client.get(URL, headers=good)).status_code == 200
    rotated = dataclasses.replace(settings, jwt_secret="a-rotated-secret-" + "0123456789abcdef" * 2)
    async with AsyncTestClient(app=create_app(rotated)) as other:
        r = await other.get(URL, headers=good)
    assert r.status_code == 401, r.text


async def test_health_and_schema_need_no_token(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    assert (await client.get("/api/background-remover/health/live")).status_code == 200
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    doc = schema.json()
    assert "/api/background-remover/jobs" in doc["paths"]
    assert "BearerToken" in doc["components"]["securitySchemes"]
