"""Upload bodies are bounded while they arrive: short text parts, and no more bytes than the balance pays for.

The finding: a batch route buffered every text part whole before any check, so a 0-credit user's
200 MB form field raised the API's memory by 400 MB (the bytes, then the decoded text).
"""

from __future__ import annotations

import base64
import io
import os
import select
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from core.settings import Settings
from db import credits
from tests.integration.hostile.helpers import Client, MakeUser, assert_problem, multipart, small_png
from tests.support.api_client import API, User
from tests.support.api_keys import create_key, key_header

LONG = b"x" * (64 * 1024)
_BOUNDARY = "bounded-forms-7MA4YWxk"


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        (API + "/jobs", [("image", b"a.png", small_png(), "image/png"), ("tier", None, LONG, None)]),
        (API + "/batches", [("name", None, LONG, None), ("images[]", b"a.png", small_png(), "image/png")]),
        (API + "/remove", [("qualityTier", None, LONG, None), ("image", b"a.png", small_png(), "image/png")]),
        (API + "/remove-single", [("qualityTier", None, LONG, None), ("image", b"a.png", small_png(), "image/png")]),
        (API + "/batch", [("batchName", None, LONG, None), ("images", b"a.png", small_png(), "image/png")]),
        (API + "/remove-batch", [("batchName", None, LONG, None), ("images", b"a.png", small_png(), "image/png")]),
    ],
)
async def test_a_long_text_part_is_413_form_field_too_large_on_every_upload_route(
    api: Client,
    make_user: MakeUser,
    settings: Settings,
    path: str,
    parts: list[tuple[str, bytes | None, bytes, str | None]],
) -> None:
    user = await make_user(1000)
    body, headers = multipart(parts)
    response = await api.post(path, content=body, headers={**user.headers, **headers})
    problem = assert_problem(response, 413, "form_field_too_large")
    assert problem["maxBytes"] == settings.max_form_field_bytes


@pytest.mark.parametrize("content_type", ["multipart/mixed", "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", [API + "/jobs", API + "/batches", API + "/remove", API + "/remove-batch"])
async def test_an_upload_route_refuses_any_other_content_type_before_reading_the_body(
    api: Client, make_user: MakeUser, path: str, content_type: str
) -> None:
    """Litestar parses any body with a ``boundary`` as multipart, whole: ``multipart/mixed`` or
    ``text/plain; boundary=…`` bypassed the bounded parse and a 3-credit user's 1 GiB text part was read
    into the API's memory. Nothing is charged."""
    user = await make_user(1000)
    body, headers = multipart([("name", None, LONG, None), ("images[]", b"a.png", small_png(), "image/png")])
    headers = {"Content-Type": headers["Content-Type"].replace("multipart/form-data", content_type)}
    response = await api.post(path, content=body, headers={**user.headers, **headers})
    problem = assert_problem(response, 415, "unsupported_content_type")
    assert "multipart/form-data" in problem["detail"]
    assert await credits.balance(user.id) == 1000


async def test_remove_bg_takes_its_three_body_types_and_refuses_others_as_remove_bg_does(
    api: Client, make_user: MakeUser
) -> None:
    user = await make_user(1000)
    key = (await create_key(api, user))["key"]
    body, headers = multipart([("size", None, LONG, None), ("image_file", b"a.png", small_png(), "image/png")])
    mixed = {"Content-Type": headers["Content-Type"].replace("multipart/form-data", "multipart/mixed")}
    response = await api.post("/v1.0/removebg", content=body, headers={**key_header(key), **mixed})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "invalid_parameter", response.text
    assert await credits.balance(user.id) == 1000


async def test_remove_bg_refuses_a_long_option_but_takes_an_image_in_base64(api: Client, make_user: MakeUser) -> None:
    user = await make_user(1000)
    key = (await create_key(api, user))["key"]
    body, headers = multipart([("size", None, LONG, None), ("image_file", b"a.png", small_png(), "image/png")])
    response = await api.post("/v1.0/removebg", content=body, headers={**key_header(key), **headers})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "form_field_too_large", response.text
    # image_file_b64 is an image in a text part: bounded like an image, not like an option
    noise = io.BytesIO()
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(noise, format="PNG")
    encoded = base64.b64encode(noise.getvalue())
    assert len(encoded) > 64 * 1024
    body, headers = multipart([("image_file_b64", None, encoded, None), ("size", None, b"bogus", None)])
    response = await api.post("/v1.0/removebg", content=body, headers={**key_header(key), **headers})
    assert response.json()["errors"][0]["code"] == "invalid_parameter", response.text


@pytest.mark.parametrize("encoding", ["json", "urlencoded"])
async def test_remove_bg_refuses_a_long_option_in_json_and_urlencoded_bodies_too(
    api: Client, make_user: MakeUser, encoding: str
) -> None:
    """Only multipart options were bounded: a 25 MB ``bg_color`` in JSON or a urlencoded form was parsed
    whole and answered ``missing_source`` (second review). Same answer as multipart now, nothing charged."""
    user = await make_user(1000)
    key = (await create_key(api, user))["key"]
    fields = {"size": "x" * (64 * 1024), "image_url": "https://example.com/a.jpg"}
    sent = {"json": fields} if encoding == "json" else {"data": fields}
    response = await api.post("/v1.0/removebg", headers=key_header(key), **sent)  # type: ignore[arg-type]
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] == "form_field_too_large", response.text
    assert await credits.balance(user.id) == 1000


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"a=b&" * 200_000),
        ("application/json", b'{"a":[' + b"{}," * 200_000 + b"{}]}"),
        ("application/json", b"{" + b",".join(b'"k%d":1' % i for i in range(10_000)) + b"}"),
    ],
    ids=["urlencoded tiny fields", "json nested", "json many keys"],
)
async def test_remove_bg_refuses_a_body_of_countless_fields_before_parsing_it(
    api: Client, make_user: MakeUser, content_type: str, body: bytes
) -> None:
    """A 28 MB urlencoded body of ``a=b&`` cost ~0.9 GB of Python objects to parse, nested JSON ~24×
    its size (second review): the fields are counted in the bytes first, nested JSON is refused where
    it starts. remove.bg's own answer, nothing charged."""
    user = await make_user(1000)
    key = (await create_key(api, user))["key"]
    response = await api.post("/v1.0/removebg", content=body, headers={**key_header(key), "Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] == "invalid_parameter", response.text
    assert await credits.balance(user.id) == 1000


@pytest.mark.parametrize("path", [API + "/jobs", API + "/batches", API + "/remove", API + "/remove-batch"])
async def test_a_user_who_cannot_pay_one_image_is_402_before_the_body_is_read(
    api: Client, make_user: MakeUser, path: str
) -> None:
    user = await make_user(0)
    body, headers = multipart([("name", None, LONG, None), ("images[]", b"a.png", small_png(), "image/png")])
    response = await api.post(path, content=body, headers={**user.headers, **headers})
    problem = assert_problem(response, 402, "insufficient_credits")
    assert problem["balance"] == 0


async def test_a_batch_body_larger_than_the_credits_pay_for_is_402(
    api: Client, make_user: MakeUser, settings: Settings
) -> None:
    user = await make_user(3)  # one basic image
    images: list[tuple[str, bytes | None, bytes, str | None]] = [
        ("images[]", f"{i}.png".encode(), small_png(), "image/png") for i in range(2)
    ]
    body, headers = multipart(images)
    declared = {**user.headers, **headers, "Content-Length": str(3 * settings.max_image_bytes)}
    response = await api.post(API + "/batches", content=body, headers=declared)
    problem = assert_problem(response, 402, "insufficient_credits")
    assert problem["imagesPayable"] == 1


# --- against the real API process -----------------------------------------------------------------


def _api_pid(base_url: str) -> int:
    port = str(urlsplit(base_url).port)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"api.server" in argv and port.encode() in argv:
            return int(entry.name)
    raise AssertionError(f"no API process on port {port}")


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _send_huge_field(
    base_url: str, user: User, path: str, size: int, media_type: str = "multipart/form-data"
) -> tuple[int, bytes, int]:
    """POST a multipart body whose one text part is ``size`` bytes, as fast as the server takes it; stop
    as soon as it answers. Returns (status, answer, bytes sent)."""
    url = urlsplit(base_url)
    head = f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\n'.encode()
    tail = f"\r\n--{_BOUNDARY}--\r\n".encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
        f"Authorization: {user.headers['Authorization']}\r\n"
        f"Content-Type: {media_type}; boundary={_BOUNDARY}\r\n"
        f"Content-Length: {len(head) + size + len(tail)}\r\nConnection: close\r\n\r\n"
    ).encode() + head
    chunk = b"A" * (1024 * 1024)
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=60) as conn:
        conn.sendall(request)
        try:
            while sent < size and not select.select([conn], [], [], 0)[0]:
                piece = chunk[: size - sent]
                conn.sendall(piece)
                sent += len(piece)
            if sent >= size:
                conn.sendall(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                break
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer, sent


async def test_a_200_mb_text_field_does_not_raise_the_api_memory(base_url: str, make_user: MakeUser) -> None:
    """Against the real API process: the peak RSS (``VmHWM``) barely moves, whoever sends the field."""
    pid = _api_pid(base_url)
    httpx.get(base_url + "/api/background-remover/health/live", timeout=5)
    before = _peak_rss_kib(pid)
    payer, broke = await make_user(1000), await make_user(0)
    size = 200 * 1024 * 1024

    paid = _send_huge_field(base_url, payer, API + "/batches", size)
    unpaid = _send_huge_field(base_url, broke, API + "/batches", size)
    grown_mib = (_peak_rss_kib(pid) - before) / 1024

    assert grown_mib < 50, f"the API's peak RSS grew by {grown_mib:.0f} MiB (sent {paid[2] >> 20} MiB of one field)"
    assert paid[0] == 413 and b"form_field_too_large" in paid[1], paid[1][:500]
    assert unpaid[0] == 402 and b"insufficient_credits" in unpaid[1], unpaid[1][:500]
    assert unpaid[2] < size, "the refused body was read whole"
    assert os.path.exists(f"/proc/{pid}")


async def test_a_200_mb_text_field_under_another_content_type_is_refused_unread(
    base_url: str, make_user: MakeUser
) -> None:
    """Against the real API process: ``multipart/mixed`` with a boundary is not a way around the bounds."""
    pid = _api_pid(base_url)
    httpx.get(base_url + "/api/background-remover/health/live", timeout=5)
    before = _peak_rss_kib(pid)
    payer = await make_user(3)  # one basic image
    size = 200 * 1024 * 1024

    answers = [
        _send_huge_field(base_url, payer, path, size, "multipart/mixed") for path in (API + "/batches", API + "/jobs")
    ]
    grown_mib = (_peak_rss_kib(pid) - before) / 1024

    assert grown_mib < 50, f"the API's peak RSS grew by {grown_mib:.0f} MiB"
    for status, answer, sent in answers:
        assert status == 415 and b"unsupported_content_type" in answer, answer[:500]
        assert sent < size, "the refused body was read whole"
