"""Hostile image bytes: corrupt, truncated, not an image at all, decompression bombs, polyglots.

Every refusal is a 4xx problem+json with a stable code, nothing is charged or recorded, and the
service keeps serving afterwards.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable

import pytest

from core.settings import Settings
from tests.integration.hostile import payloads
from tests.integration.hostile.helpers import (
    Client,
    MakeUser,
    RunWorker,
    assert_no_leak,
    assert_nothing_recorded,
    assert_problem,
    assert_still_serving,
)
from tests.support.api_client import API, balance, submit
from tests.support.images import truncated_jpeg, variant

CORRUPT: dict[str, Callable[[], bytes]] = {
    "random bytes after a JPEG magic": lambda: payloads.random_after(b"\xff\xd8\xff"),
    "random bytes after a PNG signature": lambda: payloads.random_after(payloads.PNG_SIGNATURE),
    "random bytes after a WebP header": lambda: b"RIFF\x00\x10\x00\x00WEBPVP8 " + payloads.random_after(b""),
    "a PNG whose IHDR CRC is broken": lambda: payloads.png_header_only(64, 48, bad_crc=True),
    "a PNG cut inside its IHDR": lambda: payloads.real_png()[:20],
    "a JPEG cut inside its header": lambda: payloads.real_jpeg()[:20],
    "a WebP cut inside its header": lambda: payloads.real_webp()[:16],
    "a JPEG magic and nothing else": lambda: b"\xff\xd8\xff",
    "a PNG claiming 0 x 0 pixels": lambda: payloads.png_header_only(0, 0),
}

UNSUPPORTED: dict[str, Callable[[], bytes]] = {
    "zero bytes": lambda: b"",
    "one byte": lambda: b"\xff",
    "GIF": payloads.gif,
    "BMP": payloads.bmp,
    "TIFF": payloads.tiff,
    "SVG with a script": lambda: payloads.SVG,
    "PDF": lambda: payloads.PDF,
    "HTML": lambda: payloads.HTML,
    "HTML behind a RIFF header that is not WebP": lambda: b"RIFF\x00\x00\x00\x00AVI " + payloads.HTML,
}

BOMBS: dict[str, Callable[[], bytes]] = {
    "PNG claiming 50 000 x 50 000": lambda: payloads.png_header_only(50_000, 50_000),
    "PNG claiming 2^31-1 x 1": lambda: payloads.png_header_only(2**31 - 1, 1),
    "PNG claiming 8000 x 8000 (over our limit, under Pillow's)": lambda: payloads.png_header_only(8000, 8000),
    "JPEG claiming 60 000 x 60 000": lambda: payloads.jpeg_claiming(60_000, 60_000),
}


async def _refused(
    api: Client, make_user: MakeUser, data: bytes, status: int, code: str, filename: str = "upload.jpg"
) -> None:
    user = await make_user(50)
    r = await submit(api, user, data, filename=filename)
    assert_problem(r, status, code)
    await assert_nothing_recorded(api, user, 50)
    # the same bytes in a batch are refused the same way, the problem listing them
    images = [("images[]", ("ok.png", payloads.real_png(), "image/png")), ("images[]", (filename, data, "image/png"))]
    rb = await api.post(API + "/batches", files=images, data={"tier": "basic"}, headers=user.headers)
    body = assert_problem(rb, status, code)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, code)]
    await assert_nothing_recorded(api, user, 50)
    await assert_still_serving(api, user)


@pytest.mark.parametrize("case", list(CORRUPT))
async def test_corrupt_and_truncated_images_are_422_corrupt_image(api: Client, make_user: MakeUser, case: str) -> None:
    await _refused(api, make_user, CORRUPT[case](), 422, "corrupt_image")


@pytest.mark.parametrize("case", list(UNSUPPORTED))
async def test_other_formats_are_415_whatever_their_name(api: Client, make_user: MakeUser, case: str) -> None:
    # the name and the declared content type lie: the bytes decide
    await _refused(api, make_user, UNSUPPORTED[case](), 415, "unsupported_media_type", filename="photo.png")


@pytest.mark.parametrize("case", list(BOMBS))
async def test_decompression_bombs_are_refused_from_the_header(api: Client, make_user: MakeUser, case: str) -> None:
    data = BOMBS[case]()
    assert len(data) < 2048
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    user = await make_user(50)
    r = await submit(api, user, data, filename="bomb.png")
    elapsed = time.perf_counter() - started
    body = assert_problem(r, 422, "resolution_too_high")
    assert "MP" in body["detail"] or "pixels" in body["detail"]
    assert elapsed < 2.0, f"refusing a {len(data)}-byte bomb took {elapsed:.2f}s"
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mib < 100, f"the peak RSS grew by {grown_mib:.0f} MiB: pixels were allocated"
    await assert_nothing_recorded(api, user, 50)
    await assert_still_serving(api, user)


async def test_many_bombs_at_once_do_not_stop_the_service(api: Client, make_user: MakeUser) -> None:
    user = await make_user(50)
    bombs = [payloads.png_header_only(50_000, 50_000), payloads.jpeg_claiming(60_000, 60_000)] * 10
    responses = await asyncio.gather(*(submit(api, user, b, filename="bomb.png") for b in bombs))
    for r in responses:
        assert_problem(r, 422, "resolution_too_high")
    await assert_nothing_recorded(api, user, 50)
    await assert_still_serving(api, user)


@pytest.mark.parametrize("case", list(payloads.polyglots()))
async def test_a_polyglot_is_decided_consistently_and_safely(api: Client, make_user: MakeUser, case: str) -> None:
    data = payloads.polyglots()[case]
    decisions: list[int] = []
    for _ in range(2):
        user = await make_user(50)
        r = await submit(api, user, data, filename="polyglot.html")
        decisions.append(r.status_code)
        if r.status_code == 202:
            job = r.json()
            assert job["inputFormat"] in ("jpeg", "png")
            assert job["originalFilename"] == "polyglot.html"
            assert await balance(api, user) == 47
        else:
            assert_problem(r)
            await assert_nothing_recorded(api, user, 50)
        await assert_still_serving(api, user)
    assert decisions[0] == decisions[1], decisions


@pytest.mark.models
async def test_accepted_polyglots_come_back_as_clean_images(
    api: Client, make_user: MakeUser, run_worker: RunWorker, settings: Settings
) -> None:
    """The result is re-encoded from the decoded pixels: the appended ZIP or HTML never comes back."""
    photo = variant(settings, 3, size=(160, 107))
    zip_payload = payloads.zip_bytes({"evil.html": payloads.HTML})
    uploads = {"jpeg+zip": photo + zip_payload, "jpeg+html": photo + payloads.HTML}
    user = await make_user(50)
    ids: dict[str, str] = {}
    for name, data in uploads.items():
        r = await submit(api, user, data, filename=f"{name}.html")
        assert r.status_code == 202, r.text
        ids[name] = r.json()["id"]
    await run_worker()
    for name, job_id in ids.items():
        job = (await api.get(f"{API}/jobs/{job_id}", headers=user.headers)).json()
        assert job["status"] == "completed", (name, job)
        result = await api.get(f"{API}/jobs/{job_id}/result", headers=user.headers)
        assert result.status_code == 200
        assert result.headers["content-type"] == "image/png"
        assert result.content.startswith(payloads.PNG_SIGNATURE)
        assert b"<script" not in result.content and b"PK\x03\x04" not in result.content
        disposition = result.headers["content-disposition"]
        assert ".html" not in disposition and disposition.endswith('.png"'), disposition


@pytest.mark.models
async def test_a_truncated_image_is_accepted_then_fails_in_the_worker_and_is_refunded(
    api: Client, make_user: MakeUser, run_worker: RunWorker, settings: Settings
) -> None:
    user = await make_user(50)
    truncated_png = payloads.real_png(200, 150)
    truncated_png = truncated_png[: len(truncated_png) // 2]  # IHDR intact, IDAT cut short, no IEND
    ids = []
    for name, data in (("cut.jpg", truncated_jpeg(settings)), ("cut.png", truncated_png)):
        r = await submit(api, user, data, filename=name)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    assert await balance(api, user) == 44
    await run_worker()
    for job_id in ids:
        job = (await api.get(f"{API}/jobs/{job_id}", headers=user.headers)).json()
        assert job["status"] == "failed", job
        assert job["errorCode"] == "corrupt_image"
        assert job["links"]["result"] is None
        assert_no_leak(job["errorMessage"] or "")
        result = await api.get(f"{API}/jobs/{job_id}/result", headers=user.headers)
        assert_problem(result, 404, "result_not_ready")
    assert await balance(api, user) == 50
    await assert_still_serving(api, user)
