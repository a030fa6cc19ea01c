"""Contract of every route in compat.md section A: the exact requests the original Lumiku backend's and
frontend's clients send (multipart field names, JSON bodies) with a Lumiku token ``{userId, email, iat,
exp}`` under the Lumiku settings, and the fields each client then reads.

Facts from yoppiari/superlumiku (branch development, f6b3d22): backend/src/apps/background-remover/routes.ts
and frontend/src/stores/backgroundRemoverStore.ts + frontend/src/apps/BackgroundRemover.tsx.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import uuid
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from api.app import create_app
from core.settings import Settings
from core.signed_urls import UrlSigner, job_result_path
from tests.support.api_client import API, User, balance
from tests.support.images import truncated_jpeg, variant
from tests.support.tokens import auth, lumiku_token

SMALL = (320, 214)
# What the original frontend reads from each job in its list, and from the batch it polls.
JOB_FIELDS_READ = {"id", "batchId", "status", "qualityTier", "creditsUsed", "createdAt", "errorMessage"}
BATCH_FIELDS_READ = {"id", "status", "name", "totalImages", "completedImages", "failedImages", "totalCreditsUsed"}
ORIGINAL_STATUSES = {"pending", "processing", "completed", "failed", "partial"}


def _photo(settings: Settings, index: int) -> bytes:
    return variant(settings, 100 + index, size=SMALL)


def _assert_problem_with_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"] == body["detail"]  # response.data.error
    return body


async def _wait_until_final(api: Any, user: User, path: str, key: str) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = (await api.get(path, headers=user.headers)).json()
        if body[key]["status"] not in ("pending", "processing"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} did not finish")


# ----------------------------------------------------------------------------- single images


@pytest.mark.models
async def test_backend_post_remove_answers_the_finished_job(
    lumiku_http, make_lumiku_user, running_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    r = await lumiku_http.post(
        API + "/remove",
        files={"image": ("photo.jpg", _photo(lumiku_settings, 0), "image/jpeg")},
        data={"tier": "basic"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "Background removed successfully"
    job = body["job"]
    assert job["status"] == "completed"
    assert (job["tier"], job["qualityTier"], job["creditsUsed"]) == ("basic", "basic", 3)
    assert job["originalSize"] > 0 and job["processingTime"] is not None and job["completedAt"]
    assert job["processedUrl"] == job["processedImageUrl"] == job["links"]["download"]
    image = await lumiku_http.get(job["processedUrl"])  # no bearer header, like <img src>
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).mode == "RGBA"
    assert await balance(lumiku_http, user) == 97


@pytest.mark.models
async def test_frontend_post_remove_single_honours_quality_tier(
    lumiku_http, make_lumiku_user, running_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    r = await lumiku_http.post(
        API + "/remove-single",
        files={"image": ("photo.jpg", _photo(lumiku_settings, 1), "image/jpeg")},
        data={"qualityTier": "standard"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    job = r.json()["job"]  # uploadSingleImage: res.data.job, unshifted into the jobs list
    assert set(job) >= JOB_FIELDS_READ
    assert (job["qualityTier"], job["creditsUsed"], job["batchId"]) == ("standard", 8, None)
    assert job["status"] == "completed" and job["errorMessage"] is None
    download = await lumiku_http.get(job["processedImageUrl"])  # <a href={processedImageUrl} download>
    assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment")
    assert await balance(lumiku_http, user) == 92


@pytest.mark.models
async def test_a_failed_removal_is_a_problem_with_error_and_is_refunded(
    lumiku_http, make_lumiku_user, running_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    r = await lumiku_http.post(
        API + "/remove",
        files={"image": ("broken.jpg", truncated_jpeg(lumiku_settings), "image/jpeg")},
        data={"tier": "basic"},
        headers=user.headers,
    )
    body = _assert_problem_with_error(r, 422, "corrupt_image")
    assert body["job"]["status"] == "failed" and body["job"]["errorMessage"]
    assert await balance(lumiku_http, user) == 100


async def test_single_removal_refusals_carry_error(lumiku_api, make_lumiku_user, lumiku_settings) -> None:
    poor = await make_lumiku_user(3)  # one basic image: less is refused before the upload is read
    photo = {"image": ("photo.jpg", _photo(lumiku_settings, 2), "image/jpeg")}
    r = await lumiku_api.post(
        API + "/remove-single", files=photo, data={"qualityTier": "industry"}, headers=poor.headers
    )
    assert _assert_problem_with_error(r, 402, "insufficient_credits")["required"] == 25
    r = await lumiku_api.post(API + "/remove", files=photo, data={}, headers=poor.headers)
    _assert_problem_with_error(r, 422, "unknown_tier")  # the original required a tier too
    r = await lumiku_api.post(API + "/remove", files=photo, data={"tier": "ultra"}, headers=poor.headers)
    _assert_problem_with_error(r, 422, "unknown_tier")
    r = await lumiku_api.post(
        API + "/remove", files=photo, data={"tier": "basic", "qualityTier": "industry"}, headers=poor.headers
    )
    _assert_problem_with_error(r, 422, "invalid_options")
    r = await lumiku_api.post(
        API + "/remove", files=photo, data={"tier": "basic", "format": "jpg"}, headers=poor.headers
    )
    _assert_problem_with_error(r, 422, "unknown_field")
    assert await balance(lumiku_api, poor) == 3


async def test_remove_answers_202_with_the_job_when_the_wait_runs_out(
    lumiku_settings: Settings, make_lumiku_user, queue
) -> None:
    """No worker is running: after LUMIKU_WAIT_S the client gets the pending job and where to poll it."""
    impatient = dataclasses.replace(lumiku_settings, lumiku_wait_s=0.3)
    user = await make_lumiku_user(100)
    async with AsyncTestClient(app=create_app(impatient)) as c:
        r = await c.post(
            API + "/remove-single",
            files={"image": ("photo.jpg", _photo(lumiku_settings, 3), "image/jpeg")},
            data={"qualityTier": "basic"},
            headers=user.headers,
        )
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        assert job["status"] == "pending" and job["processedImageUrl"] is None
        assert r.headers["location"] == f"{API}/jobs/{job['id']}"
        polled = await c.get(r.headers["location"], headers=user.headers)
        assert polled.json()["job"]["id"] == job["id"]


# ----------------------------------------------------------------------------- batches


@pytest.mark.models
async def test_backend_post_batch_with_indexed_keys_then_get_batch_and_its_zip_link(
    lumiku_api, make_lumiku_user, run_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    files = [(f"images[{i}]", (f"p{i}.jpg", _photo(lumiku_settings, 10 + i), "image/jpeg")) for i in range(3)]
    r = await lumiku_api.post(API + "/batch", files=files, data={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "Batch processing started"
    batch = body["batch"]
    assert (batch["totalImages"], batch["status"]) == (3, "pending")
    assert await balance(lumiku_api, user) == 91

    early = await lumiku_api.get(f"{API}/batch/{batch['id']}/download", headers=user.headers)
    _assert_problem_with_error(early, 404, "result_not_ready")  # 'ZIP file not yet generated'

    await run_worker()
    for batch_key in (batch["id"], batch["batchId"]):
        got = await lumiku_api.get(f"{API}/batch/{batch_key}", headers=user.headers)
        assert got.status_code == 200
        full = got.json()["batch"]
        assert full["status"] == "completed"
        assert [j["itemIndex"] for j in full["jobs"]] == [0, 1, 2]
        assert all(j["batchId"] == batch["id"] and j["status"] == "completed" for j in full["jobs"])
        assert all(j["processedUrl"] for j in full["jobs"])

    link = await lumiku_api.get(f"{API}/batch/{batch['batchId']}/download", headers=user.headers)
    assert link.status_code == 200
    zip_url, zip_size = link.json()["zipUrl"], link.json()["zipSize"]
    archive = await lumiku_api.get(zip_url)  # no bearer header
    assert archive.status_code == 200 and len(archive.content) == zip_size
    assert len(zipfile.ZipFile(io.BytesIO(archive.content)).namelist()) == 3


@pytest.mark.models
async def test_backend_post_batch_with_bracket_keys(lumiku_api, make_lumiku_user, run_worker, lumiku_settings) -> None:
    user = await make_lumiku_user(100)
    files = [("images[]", (f"p{i}.jpg", _photo(lumiku_settings, 20 + i), "image/jpeg")) for i in range(2)]
    r = await lumiku_api.post(API + "/batch", files=files, data={"tier": "standard"}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["batch"]["totalImages"] == 2
    assert await balance(lumiku_api, user) == 84


@pytest.mark.models
async def test_frontend_remove_batch_then_poll_batches_id_and_download_the_zip(
    lumiku_api, make_lumiku_user, run_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    files = [("images", (f"p{i}.jpg", _photo(lumiku_settings, 30 + i), "image/jpeg")) for i in range(2)]
    data = {"qualityTier": "basic", "batchName": "Product Photos - Jan 2025"}
    r = await lumiku_api.post(API + "/remove-batch", files=files, data=data, headers=user.headers)
    assert r.status_code == 200, r.text
    created = r.json()["batch"]  # uploadBatch: res.data.batch, then startBatchPolling(batch.id)
    assert set(created) >= BATCH_FIELDS_READ
    assert created["name"] == "Product Photos - Jan 2025"

    polled = await lumiku_api.get(f"{API}/batches/{created['id']}", headers=user.headers)  # getBatchStatus
    assert polled.status_code == 200
    seen = polled.json()["batch"]
    assert seen["id"] == created["id"]  # the store matches batches by id: it must not change
    assert set(seen) >= BATCH_FIELDS_READ and "createdAt" in seen

    await run_worker()
    done = (await lumiku_api.get(f"{API}/batches/{created['id']}", headers=user.headers)).json()["batch"]
    assert done["status"] == "completed"  # the poller stops on completed, failed or partial
    assert (done["completedImages"], done["failedImages"], done["totalCreditsUsed"]) == (2, 0, 6)
    assert done["name"] == "Product Photos - Jan 2025"

    zip_bytes = await lumiku_api.get(f"{API}/batches/{created['id']}/download", headers=user.headers)
    assert zip_bytes.status_code == 200 and zip_bytes.headers["content-type"] == "application/zip"


@pytest.mark.models
async def test_one_image_from_the_frontend_is_a_batch_of_one(
    lumiku_api, make_lumiku_user, run_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    files = [("images", ("only.jpg", _photo(lumiku_settings, 40), "image/jpeg"))]
    r = await lumiku_api.post(API + "/remove-batch", files=files, data={"qualityTier": "basic"}, headers=user.headers)
    assert r.status_code == 200, r.text
    batch = r.json()["batch"]
    assert (batch["totalImages"], batch["totalCreditsUsed"]) == (1, 3)
    await run_worker()
    done = (await lumiku_api.get(f"{API}/batches/{batch['id']}", headers=user.headers)).json()["batch"]
    assert done["status"] == "completed" and done["completedImages"] == 1
    # our own route keeps its minimum of two
    ours = await lumiku_api.post(
        API + "/batches", files=[("images[]", files[0][1])], data={"tier": "basic"}, headers=user.headers
    )
    assert ours.json()["code"] == "batch_too_small"


async def test_batch_refusals_carry_error(lumiku_api, make_lumiku_user, lumiku_settings) -> None:
    user = await make_lumiku_user(100)
    # a form with no image (the frontend's FormData is always multipart)
    no_images = {"qualityTier": (None, "basic")}
    r = await lumiku_api.post(API + "/remove-batch", files=no_images, headers=user.headers)
    assert r.status_code in (400, 422) and r.json()["error"]
    # anything but multipart/form-data is refused before it is read, with Lumiku's `error` too
    r = await lumiku_api.post(API + "/remove-batch", data={"qualityTier": "basic"}, headers=user.headers)
    _assert_problem_with_error(r, 415, "unsupported_content_type")
    files = [("images", ("a.jpg", _photo(lumiku_settings, 50), "image/jpeg"))]
    r = await lumiku_api.post(API + "/batch", files=files, data={"tier": "basic", "x": "1"}, headers=user.headers)
    _assert_problem_with_error(r, 422, "unknown_field")
    r = await lumiku_api.get(API + "/batch/bat_nope", headers=user.headers)
    _assert_problem_with_error(r, 404, "not_found")
    assert await balance(lumiku_api, user) == 100


# ----------------------------------------------------------------------------- jobs, stats


@pytest.mark.models
async def test_get_jobs_and_get_job_read_the_original_fields(
    lumiku_api, make_lumiku_user, run_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    ids = []
    for i, tier in enumerate(["basic", "professional"]):
        r = await lumiku_api.post(
            API + "/jobs",
            files={"image": (f"p{i}.jpg", _photo(lumiku_settings, 60 + i), "image/jpeg")},
            data={"tier": tier},
            headers=user.headers,
        )
        ids.append(r.json()["id"])
    await run_worker()

    listed = (await lumiku_api.get(API + "/jobs", headers=user.headers)).json()["jobs"]  # loadJobs
    assert [j["id"] for j in listed] == ids[::-1]  # newest first
    for job in listed:
        assert JOB_FIELDS_READ | {"processedImageUrl"} <= set(job)
        assert job["status"] == "completed" and job["processedImageUrl"]
    assert [(j["qualityTier"], j["creditsUsed"]) for j in listed] == [("professional", 15), ("basic", 3)]
    assert (await lumiku_api.get(listed[0]["processedImageUrl"])).status_code == 200

    one = (await lumiku_api.get(f"{API}/jobs/{ids[0]}", headers=user.headers)).json()  # backend: {job}
    assert one["job"]["id"] == ids[0] and one["job"]["qualityTier"] == "basic"
    assert one["id"] == ids[0]  # and our own job object is still the body


async def test_a_cancelled_job_reads_failed_in_the_original_envelope(
    lumiku_api, make_lumiku_user, lumiku_settings
) -> None:
    user = await make_lumiku_user(100)
    r = await lumiku_api.post(
        API + "/jobs",
        files={"image": ("p.jpg", _photo(lumiku_settings, 70), "image/jpeg")},
        data={"tier": "basic"},
        headers=user.headers,
    )
    url = r.headers["location"]
    assert (await lumiku_api.delete(url, headers=user.headers)).json()["status"] == "cancelled"
    body = (await lumiku_api.get(url, headers=user.headers)).json()
    assert body["status"] == "cancelled"  # ours
    assert body["job"]["status"] == "failed" and body["job"]["status"] in ORIGINAL_STATUSES
    assert body["job"]["errorMessage"] == "Cancelled by the client."


@pytest.mark.models
async def test_get_stats_reads_the_original_fields(lumiku_api, make_lumiku_user, run_worker, lumiku_settings) -> None:
    user = await make_lumiku_user(100)
    empty = (await lumiku_api.get(API + "/stats", headers=user.headers)).json()["stats"]
    assert {"totalSingleRemovals", "totalBatches", "hasSubscription", "plan", "totalJobs", "creditsSpent"} <= set(empty)
    assert (empty["totalJobs"], empty["creditsSpent"], empty["hasSubscription"]) == (0, 0, False)
    files = [("images", (f"p{i}.jpg", _photo(lumiku_settings, 81 + i), "image/jpeg")) for i in range(2)]
    await lumiku_api.post(API + "/remove-batch", files=files, data={"qualityTier": "basic"}, headers=user.headers)
    await lumiku_api.post(
        API + "/jobs",
        files={"image": ("p.jpg", _photo(lumiku_settings, 83), "image/jpeg")},
        data={"tier": "basic"},
        headers=user.headers,
    )
    await run_worker()
    stats = (await lumiku_api.get(API + "/stats", headers=user.headers)).json()["stats"]
    assert (stats["totalSingleRemovals"], stats["totalBatches"], stats["totalJobs"]) == (1, 1, 3)
    assert stats["creditsSpent"] == stats["creditsUsed"] == 9
    assert stats["plan"] is None and stats["hasActiveSubscription"] is False


# ----------------------------------------------------------------------------- subscription, pricing


async def test_subscription_routes_of_both_clients(lumiku_api, make_lumiku_user) -> None:
    user = await make_lumiku_user(5000)
    assert (await lumiku_api.get(API + "/subscription", headers=user.headers)).json() == {"subscription": None}

    # frontend: POST /subscription/subscribe {plan} → data.subscription
    r = await lumiku_api.post(API + "/subscription/subscribe", json={"plan": "starter"}, headers=user.headers)
    assert r.status_code == 201, r.text
    sub = r.json()["subscription"]
    assert (sub["plan"], sub["status"]) == ("starter", "active")
    assert await balance(lumiku_api, user) == 5000 - 990

    # loadSubscription: the banner shows remainingRemovals / dailyLimit and nextResetDate
    got = (await lumiku_api.get(API + "/subscription", headers=user.headers)).json()["subscription"]
    assert {"status", "plan", "remainingRemovals", "dailyLimit", "nextResetDate", "usageRecords"} <= set(got)
    assert (got["dailyLimit"], got["remainingRemovals"], got["usageRecords"]) == (70, 70, [])

    # frontend: POST /subscription/cancel, no body → {message}
    r = await lumiku_api.post(API + "/subscription/cancel", headers=user.headers)
    assert r.status_code == 200 and r.json()["message"] == "Subscription cancelled successfully"
    again = await lumiku_api.post(API + "/subscription/cancel", headers=user.headers)
    _assert_problem_with_error(again, 409, "conflict")

    # backend: POST /subscription {plan} → {message, subscription}; DELETE with {reason} → {message}
    r = await lumiku_api.post(API + "/subscription", json={"plan": "pro"}, headers=user.headers)
    assert r.status_code == 201 and r.json()["message"] == "Subscription created successfully"
    assert r.json()["subscription"]["plan"] == "pro"
    r = await lumiku_api.request(
        "DELETE", API + "/subscription", json={"reason": "too expensive"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Subscription cancelled successfully"
    assert await balance(lumiku_api, user) == 5000 - 990 - 2990


async def test_a_payment_id_from_the_user_is_refused_not_trusted(lumiku_api, make_lumiku_user) -> None:
    """The original backend subscribed anyone who named a paymentId; here an operator applies payments."""
    user = await make_lumiku_user(0)
    body = {"plan": "pro", "paymentId": "midtrans-ORDER-made-up"}
    r = await lumiku_api.post(API + "/subscription", json=body, headers=user.headers)
    _assert_problem_with_error(r, 403, "forbidden")
    assert (await lumiku_api.get(API + "/subscription", headers=user.headers)).json() == {"subscription": None}
    r = await lumiku_api.post(API + "/subscription/subscribe", json={"plan": "pro"}, headers=user.headers)
    _assert_problem_with_error(r, 402, "insufficient_credits")


@pytest.mark.models
async def test_a_covered_job_shows_in_the_subscription_usage(
    lumiku_http, make_lumiku_user, running_worker, lumiku_settings
) -> None:
    user = await make_lumiku_user(1000)
    await lumiku_http.post(API + "/subscription/subscribe", json={"plan": "starter"}, headers=user.headers)
    r = await lumiku_http.post(
        API + "/remove-single",
        files={"image": ("p.jpg", _photo(lumiku_settings, 90), "image/jpeg")},
        data={"qualityTier": "basic"},
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["job"]["creditsUsed"] == 0
    sub = (await lumiku_http.get(API + "/subscription", headers=user.headers)).json()["subscription"]
    assert sub["remainingRemovals"] == 69
    assert [(u["tier"], u["removalsCount"], u["totalCreditsEquivalent"]) for u in sub["usageRecords"]] == [
        ("basic", 1, 3)
    ]


async def test_backend_pricing_calculate(lumiku_api, make_lumiku_user) -> None:
    user = await make_lumiku_user(0)
    r = await lumiku_api.post(
        API + "/pricing/calculate", json={"totalImages": 25, "tier": "basic"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "pricing": {
            "totalImages": 25,
            "tier": "basic",
            "creditPerImage": 3,
            "originalPrice": 75,
            "discountPercentage": 5,
            "discountAmount": 4,
            "finalPrice": 71,
            "savings": 4,
        }
    }
    r = await lumiku_api.post(API + "/pricing/calculate", json={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 400 and r.json()["error"]  # 'Missing required fields'
    r = await lumiku_api.post(
        API + "/pricing/calculate", json={"totalImages": 0, "tier": "basic"}, headers=user.headers
    )
    _assert_problem_with_error(r, 422, "invalid_options")
    r = await lumiku_api.post(API + "/pricing/calculate", json={"totalImages": 3, "tier": "gold"}, headers=user.headers)
    _assert_problem_with_error(r, 422, "unknown_tier")


# ----------------------------------------------------------------------------- tokens


async def test_a_valid_lumiku_token_is_never_answered_401(lumiku_api, make_lumiku_user, lumiku_settings) -> None:
    """The original frontend wipes its token on any 401: every route it calls must accept a valid one."""
    user = await make_lumiku_user(0)
    calls = [
        ("GET", "/jobs"),
        ("GET", "/stats"),
        ("GET", "/subscription"),
        ("GET", "/batches/bat_nope"),
        ("GET", "/batches/bat_nope/download"),
        ("GET", "/batch/bat_nope"),
        ("GET", "/batch/bat_nope/download"),
        ("GET", "/jobs/00000000-0000-0000-0000-000000000000"),
        ("POST", "/subscription/cancel"),
    ]
    for method, path in calls:
        r = await lumiku_api.request(method, API + path, headers=user.headers)
        assert r.status_code != 401, (method, path, r.text)
    bad = await lumiku_api.get(API + "/jobs", headers=auth(lumiku_token(lumiku_settings, user.id, key="x" * 40)))
    _assert_problem_with_error(bad, 401, "unauthorized")


async def test_signed_links_are_absolute_with_a_public_base_url(
    lumiku_settings: Settings, make_lumiku_user, queue
) -> None:
    """A frontend on another origin resolves a path against its own origin: PUBLIC_BASE_URL fixes that."""
    public = dataclasses.replace(lumiku_settings, public_base_url="https://api.lumiku.example")
    user = await make_lumiku_user(100)
    async with AsyncTestClient(app=create_app(public)) as c:
        files = [("images", (f"p{i}.jpg", _photo(lumiku_settings, 95 + i), "image/jpeg")) for i in range(2)]
        r = await c.post(API + "/remove-batch", files=files, data={"qualityTier": "basic"}, headers=user.headers)
        assert r.status_code == 200
        assert r.json()["batch"]["zipUrl"] is None  # no ZIP yet
    signer = UrlSigner.from_settings(public)
    link = signer.sign(job_result_path(uuid.uuid4()))
    assert urlsplit(link).scheme == "https" and urlsplit(link).netloc == "api.lumiku.example"
