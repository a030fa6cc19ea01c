"""Single jobs end to end: HTTP in, Redis queue, a real worker with real models, PostgreSQL, result out."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from core.settings import Settings
from tests.support.api_client import API, balance, submit
from tests.support.images import quokka, variant

TIER_CREDITS = {"basic": 3, "standard": 8, "professional": 15, "industry": 25}


@pytest.mark.models
@pytest.mark.parametrize("tier", list(TIER_CREDITS))
async def test_a_single_job_goes_from_upload_to_transparent_png(
    api, make_user, run_worker, settings: Settings, tier: str
) -> None:
    user = await make_user(100)
    r = await submit(api, user, quokka(settings), tier=tier, filename="../../etc/quokka photo.jpg")
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"{API}/jobs/{job['id']}"
    assert job["status"] == "pending"
    assert job["tier"] == tier
    assert job["pricingType"] == "credit"
    assert job["creditsCharged"] == TIER_CREDITS[tier]
    assert job["originalFilename"] == "quokka photo.jpg"
    assert await balance(api, user) == 100 - TIER_CREDITS[tier]

    pending = await api.get(r.headers["location"], headers=user.headers)
    assert pending.headers["retry-after"] == "1"
    not_yet = await api.get(r.headers["location"] + "/result", headers=user.headers)
    assert not_yet.status_code == 404
    assert not_yet.json()["code"] == "result_not_ready"

    await run_worker()

    done = await api.get(r.headers["location"], headers=user.headers)
    body = done.json()
    assert body["status"] == "completed", body
    assert body["progress"] == 1.0
    assert body["links"]["result"] == f"{API}/jobs/{job['id']}/result"
    assert body["attempts"] == 1
    cached = await api.get(r.headers["location"], headers={**user.headers, "If-None-Match": done.headers["etag"]})
    assert cached.status_code == 304

    result = await api.get(body["links"]["result"], headers=user.headers)
    assert result.status_code == 200
    assert result.headers["content-type"] == "image/png"
    assert 'filename="quokka_photo.png"' in result.headers["content-disposition"]
    png = Image.open(io.BytesIO(result.content))
    assert png.mode == "RGBA"
    assert png.size == (960, 643)
    alpha = png.getchannel("A")
    assert alpha.getextrema() == (0, 255)  # some background removed, some subject kept
    assert await balance(api, user) == 100 - TIER_CREDITS[tier]


@pytest.mark.models
async def test_output_options_are_applied(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(100)
    r = await submit(api, user, quokka(settings), format="jpg", bg_color="#00ff00", size="480")
    assert r.status_code == 202, r.text
    assert r.json()["outputOptions"]["format"] == "jpg"
    await run_worker()
    result = await api.get(f"{API}/jobs/{r.json()['id']}/result", headers=user.headers)
    assert result.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(result.content))
    assert img.mode == "RGB"
    assert max(img.size) == 480
    corner = img.getpixel((2, 2))
    assert isinstance(corner, tuple)
    assert corner[1] > 200  # a corner is background: now green


async def test_jobs_list_paginates_newest_first(api, make_user, settings: Settings) -> None:
    user = await make_user(100)
    ids = []
    for i in range(5):
        r = await submit(api, user, variant(settings, i))
        assert r.status_code == 202
        ids.append(r.json()["id"])
    first = (await api.get(API + "/jobs?limit=2", headers=user.headers)).json()
    assert [j["id"] for j in first["jobs"]] == ids[::-1][:2]
    second = (await api.get(API + f"/jobs?limit=2&cursor={first['nextCursor']}", headers=user.headers)).json()
    assert [j["id"] for j in second["jobs"]] == ids[::-1][2:4]
    third = (await api.get(API + f"/jobs?limit=2&cursor={second['nextCursor']}", headers=user.headers)).json()
    assert [j["id"] for j in third["jobs"]] == ids[::-1][4:]
    assert third["nextCursor"] is None


async def test_cancel_a_pending_job_refunds_it_and_the_worker_skips_it(
    api, make_user, run_worker, settings: Settings
) -> None:
    user = await make_user(10)
    r = await submit(api, user, quokka(settings))
    job_url = r.headers["location"]
    assert await balance(api, user) == 7
    cancelled = await api.delete(job_url, headers=user.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert await balance(api, user) == 10
    again = await api.delete(job_url, headers=user.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "job_not_cancellable"
    await run_worker()
    assert (await api.get(job_url, headers=user.headers)).json()["status"] == "cancelled"
    assert await balance(api, user) == 10


async def test_a_completed_job_cannot_be_cancelled(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(10)
    r = await submit(api, user, quokka(settings))
    await run_worker()
    refused = await api.delete(r.headers["location"], headers=user.headers)
    assert refused.status_code == 409
    assert refused.json()["jobStatus"] == "completed"
    assert await balance(api, user) == 7


async def test_insufficient_credits_is_402_and_nothing_is_recorded(api, make_user, settings: Settings) -> None:
    user = await make_user(2)
    r = await submit(api, user, quokka(settings), tier="basic")
    assert r.status_code == 402
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "insufficient_credits"
    assert body["required"] == 3
    assert body["balance"] == 2
    assert (await api.get(API + "/jobs", headers=user.headers)).json()["jobs"] == []
    assert await balance(api, user) == 2


async def test_another_users_job_is_not_found_everywhere(api, make_user, settings: Settings) -> None:
    owner = await make_user(10)
    other = await make_user(10)
    r = await submit(api, owner, quokka(settings))
    url = r.headers["location"]
    for response in (
        await api.get(url, headers=other.headers),
        await api.get(url + "/result", headers=other.headers),
        await api.delete(url, headers=other.headers),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert (await api.get(API + "/jobs", headers=other.headers)).json()["jobs"] == []
    assert (await api.get(url, headers=owner.headers)).status_code == 200


async def test_idempotency_key_replays_the_first_answer_and_charges_once(api, make_user, settings: Settings) -> None:
    user = await make_user(20)
    image = quokka(settings)
    key = {"Idempotency-Key": "order-42"}
    first = await submit(api, user, image, headers=key)
    second = await submit(api, user, image, headers=key)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    assert await balance(api, user) == 17
    assert len((await api.get(API + "/jobs", headers=user.headers)).json()["jobs"]) == 1

    other_body = await submit(api, user, image, tier="standard", headers=key)
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    assert await balance(api, user) == 17


@pytest.mark.parametrize(
    ("fields", "image", "status", "code"),
    [
        ({"tier": "ultra"}, "photo", 422, "unknown_tier"),
        ({"format": "gif"}, "photo", 422, "invalid_options"),
        ({"bg_color": "green"}, "photo", 422, "invalid_options"),
        ({"crop_margin": "-5"}, "photo", 422, "invalid_options"),
        ({}, "text", 415, "unsupported_media_type"),
        ({}, "empty", 415, "unsupported_media_type"),
        ({}, "tiny", 422, "resolution_too_low"),
        ({"webhook_url": "http://127.0.0.1:9/hook"}, "photo", 422, "invalid_webhook_url"),
        ({"webhook_url": "ftp://example.com/x"}, "photo", 422, "invalid_webhook_url"),
    ],
)
async def test_bad_submissions_get_a_clear_problem_and_cost_nothing(
    api, make_user, settings: Settings, fields: dict[str, str], image: str, status: int, code: str
) -> None:
    user = await make_user(50)
    data = {
        "photo": quokka(settings),
        "text": b"hello, this is not an image at all",
        "empty": b"",
        "tiny": variant(settings, 0, fmt="PNG", size=(8, 8)),
    }[image]
    tier = fields.pop("tier", "basic")
    extra: dict[str, Any] = dict(fields)
    r = await submit(api, user, data, tier=tier, **extra)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert r.json()["detail"]
    assert await balance(api, user) == 50
    assert (await api.get(API + "/jobs", headers=user.headers)).json()["jobs"] == []


async def test_a_missing_image_is_a_clear_problem(api, make_user) -> None:
    user = await make_user(50)
    r = await api.post(API + "/jobs", data={"tier": "basic"}, files={"other": ("x", b"x")}, headers=user.headers)
    assert (r.status_code, r.json()["code"]) == (422, "unknown_field")  # the image under another name
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.post(API + "/jobs", files={"tier": (None, "basic")}, headers=user.headers)
    assert (r.status_code, r.json()["code"]) == (422, "missing_source")
    assert "image_url" in r.json()["detail"]
