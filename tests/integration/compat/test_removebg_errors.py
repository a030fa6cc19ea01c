"""remove.bg's errors as its clients read them: ``{"errors": [{"title", "code", "detail"}]}`` with its
status codes (400 input, 402 credits, 403 key, 429 rate), and nothing charged or stored for a refused
request. No worker runs here: an accepted request waits ``REMOVEBG_WAIT_S`` and times out."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from db import credits, jobs
from tests.support.api_client import API, User
from tests.support.api_keys import create_key
from tests.support.images import variant
from tests.support.processes import api_server, env_with
from tests.support.removebg import ACCOUNT, REMOVEBG, new_key, the_error
from tests.support.tokens import auth, token

MakeUser = Callable[..., Awaitable[User]]
Client = AsyncTestClient[Litestar]


@pytest.fixture
async def quick(settings: Settings, migrated_db: str) -> AsyncIterator[Client]:
    """The app with a 1-second wait and no worker: an accepted image always times out."""
    async with AsyncTestClient(app=create_app(dataclasses.replace(settings, removebg_wait_s=1.0))) as c:
        yield c


async def keyed(client: Client, make_user: MakeUser, credits_granted: int = 100) -> tuple[User, dict[str, str]]:
    user = await make_user(credits_granted)
    created = await create_key(client, user)
    return user, {"X-Api-Key": created["key"]}


def photo(settings: Settings) -> bytes:
    return variant(settings, 9, size=(320, 214))


async def test_missing_wrong_and_revoked_keys_are_403(client: Client, make_user: MakeUser, settings: Settings) -> None:
    user, headers = await keyed(client, make_user)
    bearer = auth(token(settings, user.id))
    for sent in [{}, {"X-Api-Key": "bgr_" + "x" * 43}, {"X-Api-Key": "a-remove.bg-key"}, bearer]:
        r = await client.post(REMOVEBG, files={"image_file": ("a.jpg", photo(settings))}, headers=sent)
        assert r.status_code == 403, sent
        assert the_error(r)["code"] == "auth_failed"
        assert (await client.get(ACCOUNT, headers=sent)).status_code == 403
    key_id = (await client.get(API + "/api-keys", headers=user.headers)).json()["apiKeys"][0]["id"]
    await client.delete(f"{API}/api-keys/{key_id}", headers=user.headers)
    r = await client.get(ACCOUNT, headers=headers)
    assert r.status_code == 403
    assert the_error(r)["title"] == "Authentication failed"


@pytest.mark.parametrize(
    ("fields", "code", "parameter"),
    [
        ({"bg_image_url": "http://10.0.0.1/bg.jpg"}, "image_url_refused", "bg_image_url"),
        ({"bg_image_url": "http://169.254.169.254/latest/meta-data"}, "image_url_refused", "bg_image_url"),
        ({"format": "zip", "bg_color": "white"}, "invalid_parameter", "format=zip"),
        ({"roi": "10% 10% 90%"}, "invalid_parameter", "roi"),
        ({"scale": "5%"}, "invalid_parameter", "scale"),
        ({"position": "left"}, "invalid_parameter", "position"),
        ({"semitransparency": "sometimes"}, "invalid_parameter", "semitransparency"),
        ({"add_shadow": "maybe"}, "invalid_parameter", "add_shadow"),
        ({"crop": "true", "crop_margin": "10px 20px"}, "unsupported_parameter", "crop_margin"),
        ({"size": "gigantic"}, "invalid_parameter", "size"),
        ({"type": "spaceship"}, "invalid_parameter", "type"),
        ({"format": "gif"}, "invalid_parameter", "format"),
        ({"channels": "rgb"}, "invalid_parameter", "channels"),
        ({"bg_color": "not-a-colour"}, "invalid_parameter", "bg_color"),
        ({"crop": "maybe"}, "invalid_parameter", "crop"),
    ],
)
async def test_parameters_refused_in_remove_bg_shape(
    client: Client, make_user: MakeUser, settings: Settings, fields: dict[str, str], code: str, parameter: str
) -> None:
    user, headers = await keyed(client, make_user)
    r = await client.post(REMOVEBG, files={"image_file": ("a.jpg", photo(settings))}, data=fields, headers=headers)
    assert r.status_code == 400
    error = the_error(r)
    assert error["code"] == code
    assert parameter in error["detail"]
    assert await credits.balance(user.id) == 100


async def test_an_image_url_into_the_metadata_service_is_refused_and_free(client: Client, make_user: MakeUser) -> None:
    user, headers = await keyed(client, make_user)
    r = await client.post(REMOVEBG, json={"image_url": "http://169.254.169.254/latest"}, headers=headers)
    assert r.status_code == 400
    error = the_error(r)
    assert error["code"] == "image_url_refused" and "169.254" not in error["detail"]
    assert await credits.balance(user.id) == 100


async def test_bad_sources(client: Client, make_user: MakeUser, settings: Settings) -> None:
    user, headers = await keyed(client, make_user)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"data": {"size": "auto"}}, "missing_source"),
        ({"json": {"size": "auto"}}, "missing_source"),
        ({"files": {"image_file": ("notes.txt", b"hello, not an image")}}, "invalid_file"),
        ({"data": {"image_file_b64": "%%% not base64 %%%"}}, "invalid_parameter"),
        ({"json": {"image_file_b64": base64.b64encode(b"GIF89a...").decode()}}, "invalid_file"),
        ({"content": b"raw bytes", "headers": {"Content-Type": "image/jpeg"}}, "invalid_parameter"),
        ({"json": ["not", "an", "object"]}, "invalid_parameter"),
        (
            {"files": {"image_file": ("a.jpg", photo(settings))}, "data": {"image_file_b64": "AAAA"}},
            "invalid_parameter",
        ),
    ]
    for kwargs, code in cases:
        extra = kwargs.pop("headers", {})
        r = await client.post(REMOVEBG, headers={**headers, **extra}, **kwargs)
        assert r.status_code == 400, (kwargs, r.text)
        assert the_error(r)["code"] == code, kwargs
    assert await credits.balance(user.id) == 100


async def test_too_large_is_400_file_too_large(settings: Settings, make_user: MakeUser) -> None:
    image = photo(settings)
    app = create_app(dataclasses.replace(settings, max_image_bytes=len(image) - 1))
    async with AsyncTestClient(app=app) as client:
        _, headers = await keyed(client, make_user)
        for kwargs in (
            {"files": {"image_file": ("a.jpg", image)}},
            {"json": {"image_file_b64": base64.b64encode(image).decode()}},
        ):
            r = await client.post(REMOVEBG, headers=headers, **kwargs)
            assert r.status_code == 400
            assert the_error(r)["code"] == "file_too_large"


async def test_insufficient_credits_is_402_and_nothing_is_stored(
    client: Client, make_user: MakeUser, settings: Settings
) -> None:
    user, headers = await keyed(client, make_user, credits_granted=7)  # standard costs 8
    r = await client.post(REMOVEBG, files={"image_file": ("a.jpg", photo(settings))}, headers=headers)
    assert r.status_code == 402
    error = the_error(r)
    assert error["code"] == "insufficient_credits"
    assert "8 credits" in error["detail"]
    assert await credits.balance(user.id) == 7
    assert (await client.get(API + "/jobs", headers=user.headers)).json()["jobs"] == []


async def test_rate_limit_is_429_with_retry_after(settings: Settings, make_user: MakeUser) -> None:
    app = create_app(dataclasses.replace(settings, rate_limit_per_s=0.01, rate_limit_burst=2))
    async with AsyncTestClient(app=app) as client:
        _, headers = await keyed(client, make_user)  # creating the key took 1 of 2
        assert (await client.get(ACCOUNT, headers=headers)).status_code == 200
        r = await client.get(ACCOUNT, headers=headers)
        assert r.status_code == 429
        assert the_error(r)["code"] == "rate_limit_exceeded"
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["x-ratelimit-limit"] == "2"


async def test_a_timeout_is_504_and_the_queued_job_is_refunded(
    quick: Client, make_user: MakeUser, settings: Settings
) -> None:
    """Every remove.bg option this service honours gets past validation (the job is queued), then no
    worker takes it: cancelled, refunded, and the answer says so."""
    user, headers = await keyed(quick, make_user, credits_granted=20)
    fields = {
        "size": "hd",
        "type": "person",
        "type_level": "2",
        "format": "webp",
        "bg_color": "white",
        "crop": "true",
        "crop_margin": "10%",
        "channels": "rgba",
        "roi": "0% 0% 100% 100%",
        "scale": "original",
        "position": "original",
        "semitransparency": "true",
        "add_shadow": "false",
    }
    r = await quick.post(REMOVEBG, files={"image_file": ("a.jpg", photo(settings))}, data=fields, headers=headers)
    assert r.status_code == 504
    error = the_error(r)
    assert error["code"] == "timeout"
    assert "nothing was charged" in error["detail"]
    assert await credits.balance(user.id) == 20
    job = (await quick.get(f"{API}/jobs/{r.headers['x-job-id']}", headers=user.headers)).json()
    assert job["status"] == "cancelled"
    assert job["outputOptions"] == {
        "format": "webp",
        "channels": "rgba",
        "crop": "true",
        "crop_margin": "10%",
        "bg_color": "#ffffffff",
        "roi": "0% 0% 100% 100%",
        "type": "person",
    }


async def test_the_openapi_document_lists_the_routes_under_their_own_tag(client: Client) -> None:
    r = await client.get("/schema/openapi.json")
    schema = json.loads(r.text)
    assert schema["paths"]["/v1.0/removebg"]["post"]["tags"] == ["remove.bg compatible"]
    assert schema["paths"]["/v1.0/account"]["get"]["tags"] == ["remove.bg compatible"]
    assert schema["components"]["securitySchemes"]["ApiKey"] == {"type": "apiKey", "name": "X-Api-Key", "in": "header"}


async def test_a_timeout_while_processing_is_charged_once_and_points_at_the_result(
    make_user: MakeUser, settings: Settings
) -> None:
    """A worker has the image when the wait runs out: nothing is cancelled or charged again; the answer
    names the job whose result the same key can fetch later."""
    user = await make_user(20)
    with api_server(env_with(REMOVEBG_WAIT_S="3")) as base_url:
        key = new_key(base_url, user)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            sent = asyncio.create_task(
                http.post(REMOVEBG, files={"image_file": ("a.jpg", photo(settings))}, headers={"X-Api-Key": key})
            )
            job_id = None
            while job_id is None:
                await asyncio.sleep(0.1)
                listed = (await http.get(API + "/jobs", headers={"X-Api-Key": key})).json()["jobs"]
                job_id = listed[0]["id"] if listed else None
            assert await jobs.claim_for_processing(uuid.UUID(job_id), "a-busy-worker") is not None
            r = await sent
            assert r.status_code == 504
            assert r.headers["x-job-id"] == job_id
            detail = the_error(r)["detail"]
            assert "charged once" in detail and f"/jobs/{job_id}/result" in detail
            job = (await http.get(f"{API}/jobs/{job_id}", headers={"X-Api-Key": key})).json()
    assert job["status"] == "processing" and job["creditsCharged"] == 8
    assert await credits.balance(user.id) == 12
