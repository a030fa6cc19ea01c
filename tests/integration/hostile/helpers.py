"""Assertions shared by the hostile-input tests: a clean refusal, nothing charged or recorded, still serving."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image

from db.tables import BackgroundRemovalBatch, BackgroundRemovalJob
from tests.support.api_client import API, User, balance

Client = AsyncTestClient[Litestar]

PROBLEM_FIELDS = ("type", "title", "status", "detail", "code", "requestId")
# What must never reach a client: driver names, SQL, tracebacks, server paths.
_LEAKS = re.compile(
    r"Traceback|asyncpg|psycopg|piccolo|relation \"|syntax error at|File \"/|/home/|/work/|/tmp/|/usr/|"
    r"site-packages|\.py\b|storage_dir|Exception\b",
)


def assert_no_leak(text: str) -> None:
    match = _LEAKS.search(text)
    assert match is None, f"internal detail {match.group(0)!r} leaked: {text[:500]}"


def assert_problem(response: Any, status: int | None = None, code: str | None = None) -> dict[str, Any]:
    """A 4xx RFC 9457 problem with every field, the given status and code, and nothing internal in it."""
    text = response.text
    if status is not None:
        assert response.status_code == status, text[:1000]
    assert 400 <= response.status_code < 500, text[:1000]
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    missing = [f for f in PROBLEM_FIELDS if f not in body]
    assert not missing, f"problem body lacks {missing}: {body}"
    assert body["status"] == response.status_code
    assert isinstance(body["detail"], str) and body["detail"]
    assert response.headers.get("x-request-id") == body["requestId"]
    if code is not None:
        assert body["code"] == code, body
    assert_no_leak(text)
    return body


async def assert_nothing_recorded(api: Client, user: User, credits_before: int) -> None:
    """The user's balance is unchanged and no job or batch was recorded."""
    assert await balance(api, user) == credits_before
    jobs = await api.get(API + "/jobs", headers=user.headers)
    assert jobs.status_code == 200 and jobs.json()["jobs"] == [], jobs.text
    batches = await api.get(API + "/batches", headers=user.headers)
    assert batches.status_code == 200 and batches.json()["batches"] == [], batches.text
    assert await BackgroundRemovalJob.count().where(BackgroundRemovalJob.user_id == user.id) == 0
    assert await BackgroundRemovalBatch.count().where(BackgroundRemovalBatch.user_id == user.id) == 0


def small_png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


async def assert_still_serving(api: Client, user: User) -> None:
    """The service keeps serving: health, an authenticated read and a valid upload all succeed."""
    live = await api.get(API + "/health/live")
    assert live.status_code == 200, live.text
    before = await balance(api, user)
    ok = await api.post(
        API + "/jobs",
        files={"image": ("fine.png", small_png(), "image/png")},
        data={"tier": "basic"},
        headers=user.headers,
    )
    assert ok.status_code == 202, ok.text
    assert await balance(api, user) == before - 3
    cancelled = await api.delete(ok.headers["location"], headers=user.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await balance(api, user) == before


async def tables_exist() -> None:
    """Every table the service needs is still there (nothing was dropped by an injected string)."""
    rows = await BackgroundRemovalJob.raw(
        "SELECT to_regclass('background_removal_job') AS job, to_regclass('background_removal_batch') AS batch, "
        "to_regclass('credit_ledger') AS ledger, to_regclass('idempotency_record') AS idem"
    )
    assert rows and all(v is not None for v in rows[0].values()), rows


MakeUser = Callable[..., Awaitable[User]]
RunWorker = Callable[..., Awaitable[dict[str, Any]]]


def multipart(
    parts: list[tuple[str, bytes | None, bytes, str | None]], boundary: str = "hostile-boundary-7MA4YWxk"
) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body built by hand, so that file names reach the server byte for byte.

    Each part is ``(field name, raw filename or None, data, content type or None)``; httpx would
    percent-encode control characters in file names, which is exactly what these tests must not do.
    """
    out = bytearray()
    for name, filename, data, content_type in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'.encode()
        if filename is not None:
            disposition += b'; filename="' + filename.replace(b'"', b"%22") + b'"'
        out += disposition + b"\r\n"
        if content_type is not None:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
