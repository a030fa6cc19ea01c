"""Headers on every answer: ``X-Request-ID`` is the client's only when it is a safe token (1-64 of
``[A-Za-z0-9._-]``), otherwise a new id; ``X-Content-Type-Options: nosniff`` is on all of them, so no
browser renders a result or an error as anything but its declared type; ``Server-Timing`` gives the
API's own time for the request, on every answer, errors included."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api_client import API, User
from tests.support.api_keys import key_header

Client = AsyncTestClient[Litestar]
GENERATED = re.compile(r"[0-9a-f]{32}")


async def _raw_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes]]:
    """One request straight into the ASGI app: header bytes no HTTP client library would send (a
    server other than uvicorn, or a proxy, may pass them on)."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver.local"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver.local", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"])


@pytest.mark.parametrize(
    "sent",
    [b"ok\n", b"abc\r\nSet-Cookie: x=1", b"a" * 64 + b"\n", b"<script>", b"a" * 65, b"a b", b"\xe9t\xe9", b""],
    ids=["trailing LF", "CRLF injection", "64 then LF", "markup", "65 chars", "space", "latin-1", "empty"],
)
async def test_a_request_id_outside_the_safe_pattern_is_replaced(client: Client, sent: bytes) -> None:
    status, headers = await _raw_get(client.app, API + "/health/live", [(b"x-request-id", sent)])
    assert status == 200
    echoed = headers[b"x-request-id"]
    assert echoed != sent and GENERATED.fullmatch(echoed.decode()), echoed


async def test_a_safe_request_id_is_kept_in_the_header_and_the_problem(client: Client) -> None:
    rid = "trace-01.AZ_9" + "x" * 51  # 64 characters
    r = await client.get(API + "/jobs", headers={"X-Request-ID": rid})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == rid and r.json()["requestId"] == rid


async def test_every_answer_says_nosniff(client: Client, make_user: Any) -> None:
    user: User = await make_user(5)
    created = await client.post(API + "/api-keys", headers=user.headers)
    answers = {
        "health": await client.get(API + "/health/live"),
        "json": await client.get(API + "/jobs", headers=user.headers),
        "401 problem": await client.get(API + "/jobs"),
        "403 problem": await client.post(API + "/webhooks/secret", headers=key_header(created.json()["key"])),
        "404 route": await client.get("/no/such/path"),
        "missing result": await client.get(
            API + "/jobs/3f6c2a58-9a8e-4b7e-9d51-0c1f2e8a7b44/result", headers=user.headers
        ),
        "bad signed link": await client.get(
            API + "/signed/jobs/3f6c2a58-9a8e-4b7e-9d51-0c1f2e8a7b44/result?expires=1&signature=x"
        ),
        "page": await client.get("/"),
        "metrics": await client.get("/metrics"),
    }
    for name, r in answers.items():
        assert r.headers.get_list("x-content-type-options") == ["nosniff"], (name, r.status_code, r.headers)


async def test_every_answer_says_how_long_the_api_took(client: Client, make_user: Any) -> None:
    user: User = await make_user(5)
    answers = {
        "health": await client.get(API + "/health/live"),
        "json": await client.get(API + "/jobs", headers=user.headers),
        "401 problem": await client.get(API + "/jobs"),
        "404 route": await client.get("/no/such/path"),
    }
    for name, r in answers.items():
        timing = re.fullmatch(r"app;dur=(\d+\.\d)", r.headers.get("server-timing", ""))
        assert timing and float(timing.group(1)) >= 0, (name, r.headers.get("server-timing"))
