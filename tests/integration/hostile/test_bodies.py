"""Hostile request bodies: too big, too many parts, the wrong encoding for the route."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.integration.hostile import payloads
from tests.integration.hostile.helpers import (
    Client,
    MakeUser,
    assert_nothing_recorded,
    assert_problem,
    assert_still_serving,
    multipart,
)
from tests.support.api_client import API, User, submit

SMALL_IMAGE_LIMIT = 64 * 1024
SMALL_BATCH_LIMIT = 512 * 1024


@pytest.fixture
async def small_api(settings: Settings, migrated_db: str, queue: ArqRedis) -> AsyncIterator[Client]:
    """The API with small upload limits, so that "too big" stays cheap to send."""
    small = dataclasses.replace(settings, max_image_bytes=SMALL_IMAGE_LIMIT, max_batch_bytes=SMALL_BATCH_LIMIT)
    async with AsyncTestClient(app=create_app(small), timeout=60) as client:
        yield client


def _padded_png(size: int) -> bytes:
    """A valid PNG of exactly ``size`` bytes (padding after IEND is ignored by decoders)."""
    png = payloads.real_png()
    assert len(png) < size
    return png + b"\0" * (size - len(png))


async def test_an_image_just_over_the_limit_is_413_file_too_large(small_api: Client, make_user: MakeUser) -> None:
    user = await make_user(50)
    at_limit = await submit(small_api, user, _padded_png(SMALL_IMAGE_LIMIT), filename="ok.png")
    assert at_limit.status_code == 202, at_limit.text
    assert (await small_api.delete(at_limit.headers["location"], headers=user.headers)).status_code == 200
    other = await make_user(50)
    r = await submit(small_api, other, _padded_png(SMALL_IMAGE_LIMIT + 1), filename="big.png")
    body = assert_problem(r, 413, "file_too_large")
    assert body["maxBytes"] == SMALL_IMAGE_LIMIT
    await assert_nothing_recorded(small_api, other, 50)
    await assert_still_serving(small_api, other)


async def test_a_body_over_the_single_job_route_limit_is_413(small_api: Client, make_user: MakeUser) -> None:
    user = await make_user(50)
    huge = _padded_png(SMALL_IMAGE_LIMIT + 1024 * 1024 + 4096)
    r = await submit(small_api, user, huge, filename="huge.png")
    assert_problem(r, 413, "file_too_large")
    await assert_nothing_recorded(small_api, user, 50)
    await assert_still_serving(small_api, user)


async def test_a_body_over_the_batch_route_limit_is_413(small_api: Client, make_user: MakeUser) -> None:
    user = await make_user(500)
    image = _padded_png(SMALL_IMAGE_LIMIT // 2)
    files = [("images[]", (f"{i}.png", image, "image/png")) for i in range(SMALL_BATCH_LIMIT // len(image) + 2)]
    r = await small_api.post(API + "/batches", files=files, data={"tier": "basic"}, headers=user.headers)
    assert_problem(r, 413, "payload_too_large")
    await assert_nothing_recorded(small_api, user, 500)
    await assert_still_serving(small_api, user)


async def test_a_huge_json_body_is_413(api: Client, make_user: MakeUser) -> None:
    user = await make_user(50)
    r = await api.post(API + "/subscription", json={"plan": "x" * (128 * 1024)}, headers=user.headers)
    assert_problem(r, 413, "payload_too_large")
    await assert_still_serving(api, user)


async def _raw_asgi_post(
    app: Any, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """POST through the ASGI app directly, streaming ``chunks`` with no Content-Length (chunked upload)."""
    pending = list(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"transfer-encoding", b"chunked"), (b"host", b"testserver.local")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return int(start["status"]), response_headers, body


async def test_a_streamed_body_without_content_length_is_cut_at_the_limit(
    small_api: Client, make_user: MakeUser
) -> None:
    user = await make_user(50)
    body, headers = multipart(
        [("tier", None, b"basic", None), ("image", b"big.png", _padded_png(SMALL_IMAGE_LIMIT + 2 * 1024 * 1024), None)]
    )
    chunks = [body[start : start + 64 * 1024] for start in range(0, len(body), 64 * 1024)]
    status, response_headers, content = await _raw_asgi_post(
        small_api.app, API + "/jobs", {**user.headers, **headers}, chunks
    )
    assert status == 413, content[:500]
    assert response_headers["content-type"].startswith("application/problem+json")
    problem = json.loads(content)
    assert problem["code"] == "file_too_large" and problem["requestId"]
    await assert_nothing_recorded(small_api, user, 50)
    await assert_still_serving(small_api, user)


@pytest.mark.parametrize("route", ["/jobs", "/batches"])
async def test_ten_thousand_form_parts_are_a_4xx_problem(api: Client, make_user: MakeUser, route: str) -> None:
    user = await make_user(50)
    parts: list[tuple[str, bytes | None, bytes, str | None]] = [(f"f{i}", None, b"x", None) for i in range(10_000)]
    parts.append(("image", b"a.png", payloads.real_png(), "image/png"))
    body, headers = multipart(parts)
    r = await api.post(API + route, content=body, headers={**user.headers, **headers})
    assert_problem(r)
    await assert_nothing_recorded(api, user, 50)
    await assert_still_serving(api, user)


async def _wrong_encoding(api: Client, user: User, route: str, kind: str) -> None:
    if kind == "json":
        r = await api.post(API + route, json={"tier": "basic", "image": "aGVsbG8="}, headers=user.headers)
    elif kind == "urlencoded":
        r = await api.post(API + route, data={"tier": "basic", "image": "aGVsbG8="}, headers=user.headers)
    elif kind == "text":
        r = await api.post(API + route, content=b"hello", headers={**user.headers, "Content-Type": "text/plain"})
    elif kind == "multipart without boundary":
        r = await api.post(
            API + route, content=b"--x\r\n\r\n--x--", headers={**user.headers, "Content-Type": "multipart/form-data"}
        )
    elif kind == "broken multipart":
        r = await api.post(
            API + route,
            content=b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG',
            headers={**user.headers, "Content-Type": "multipart/form-data; boundary=b"},
        )
    else:
        raise AssertionError(kind)
    assert_problem(r)
    assert r.status_code in (400, 413, 415, 422), r.text


@pytest.mark.parametrize("kind", ["json", "urlencoded", "text", "multipart without boundary", "broken multipart"])
@pytest.mark.parametrize("route", ["/jobs", "/batches"])
async def test_the_wrong_encoding_where_multipart_is_expected(
    api: Client, make_user: MakeUser, route: str, kind: str
) -> None:
    user = await make_user(50)
    await _wrong_encoding(api, user, route, kind)
    await assert_nothing_recorded(api, user, 50)
    await assert_still_serving(api, user)


@pytest.mark.parametrize("route", ["/jobs", "/batches"])
@pytest.mark.parametrize("case", ["text field", "image part with an empty filename"])
async def test_bytes_that_are_not_utf8_in_a_text_part_are_a_400_problem(
    api: Client, make_user: MakeUser, route: str, case: str
) -> None:
    """Litestar decodes every part without a file name as UTF-8 text; invalid bytes must not be a 500."""
    user = await make_user(50)
    field = "image" if route == "/jobs" else "images[]"
    parts: list[tuple[str, bytes | None, bytes, str | None]]
    if case == "text field":
        parts = [("tier", None, b"\xff\xfebasic", None), (field, b"a.png", payloads.real_png(), "image/png")]
        parts += [] if route == "/jobs" else [(field, b"b.png", payloads.real_png(40, 30), "image/png")]
    else:
        parts = [("tier", None, b"basic", None), (field, b"", payloads.real_png(), "image/png")]
        parts += [] if route == "/jobs" else [(field, b"", payloads.real_png(40, 30), "image/png")]
    body, headers = multipart(parts)
    r = await api.post(API + route, content=body, headers={**user.headers, **headers})
    assert_problem(r, 400)
    await assert_nothing_recorded(api, user, 50)
    await assert_still_serving(api, user)


@pytest.mark.parametrize(
    "kind", ["multipart", "urlencoded", "not json", "json array", "json null", "plan not a string"]
)
async def test_the_wrong_body_where_json_is_expected(api: Client, make_user: MakeUser, kind: str) -> None:
    user = await make_user(50)
    url = API + "/subscription"
    if kind == "multipart":
        r = await api.post(
            url, files={"plan": ("plan.json", b'{"plan": "starter"}', "application/json")}, headers=user.headers
        )
    elif kind == "urlencoded":
        r = await api.post(url, data={"plan": "starter"}, headers=user.headers)
    else:
        raw = {
            "not json": b'{"plan": "starter"',
            "json array": b'["starter"]',
            "json null": b"null",
            "plan not a string": json.dumps({"plan": 42}).encode(),
        }[kind]
        r = await api.post(url, content=raw, headers={**user.headers, "Content-Type": "application/json"})
    assert_problem(r)
    assert r.status_code in (400, 413, 415, 422), r.text
    sub = await api.get(url, headers=user.headers)
    assert sub.status_code == 200 and sub.json() == {"subscription": None}
    await assert_still_serving(api, user)


@pytest.mark.parametrize("route", ["/subscription", "/credits/grants"])
async def test_deeply_nested_json_is_a_400_problem_not_a_500(api: Client, make_user: MakeUser, route: str) -> None:
    """5 000 nested objects fit in the 64 KiB JSON limit; msgspec's RecursionError must not become a 500."""
    user = await make_user(50)
    raw = b'{"plan": ' * 5000 + b'"starter"' + b"}" * 5000
    assert len(raw) < 64 * 1024
    r = await api.post(API + route, content=raw, headers={**user.headers, "Content-Type": "application/json"})
    assert_problem(r, 400)
    sub = await api.get(API + "/subscription", headers=user.headers)
    assert sub.status_code == 200 and sub.json() == {"subscription": None}
    await assert_still_serving(api, user)


@pytest.mark.parametrize("path", ["/jobs", "/batches", "/stats", "/pricing", "/subscription", "/credits/balance"])
async def test_options_on_an_authenticated_route_is_not_a_500(api: Client, make_user: MakeUser, path: str) -> None:
    """Found by schemathesis: the JWT middleware skips OPTIONS, then the rate limiter reads ``request.user``."""
    user = await make_user(10)
    r = await api.options(API + path, headers=user.headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert_problem(r)
    await assert_still_serving(api, user)
