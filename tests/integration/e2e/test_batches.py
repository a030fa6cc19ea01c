"""Batches end to end: upload, volume discount, per-image progress, one bad image refunded, the ZIP."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from core.settings import Settings
from tests.support.api_client import API, balance
from tests.support.images import truncated_jpeg, variant


def _files(images: list[tuple[str, bytes]]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images[]", (name, data, "image/jpeg")) for name, data in images]


@pytest.mark.models
async def test_a_batch_of_25_with_one_corrupt_image(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(1000)
    small = (320, 214)
    images = [(f"photo {i}.jpg", variant(settings, i, size=small)) for i in range(25)]
    images[7] = ("broken.jpg", truncated_jpeg(settings))
    images[3] = ("../../etc/passwd", images[3][1])
    images[4] = ("ünïcödé 照片.jpg", images[4][1])
    images[5] = ("photo 0.jpg", images[5][1])  # same name as image 0: names in the ZIP stay unique
    r = await api.post(API + "/batches", files=_files(images), data={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 202, r.text
    batch = r.json()
    assert batch["totalImages"] == 25
    assert batch["discountPercent"] == 5
    assert batch["creditsBeforeDiscount"] == 75
    assert batch["creditsCharged"] == 71  # 75 × 0.95 = 71.25, rounded down
    assert r.headers["location"] == f"{API}/batches/{batch['id']}"
    assert await balance(api, user) == 1000 - 71

    progress = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert progress["status"] == "pending"
    assert [i["position"] for i in progress["images"]] == list(range(25))
    early = await api.get(r.headers["location"] + "/download", headers=user.headers)
    assert early.status_code == 409
    assert early.json()["code"] == "batch_not_finished"

    await run_worker()

    done = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert done["status"] == "partial"
    assert done["processedImages"] == 25
    assert done["failedImages"] == 1
    assert done["succeededImages"] == 24
    failed = [i for i in done["images"] if i["status"] == "failed"]
    assert [(f["position"], f["errorCode"]) for f in failed] == [(7, "corrupt_image")]
    refund = failed[0]["creditsCharged"]
    assert refund in (2, 3)
    assert await balance(api, user) == 1000 - 71 + refund

    # by public id too
    assert (await api.get(f"{API}/batches/{batch['batchId']}", headers=user.headers)).status_code == 200

    download = await api.get(done["links"]["download"], headers=user.headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = archive.namelist()
    assert len(names) == 24
    assert len(set(names)) == 24
    assert "008_broken.png" not in names
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert name.isascii()
    assert "004_passwd.png" in names
    assert "001_photo_0.png" in names and "006_photo_0.png" in names
    with archive.open(names[0]) as member:
        assert Image.open(member).mode == "RGBA"

    listed = (await api.get(API + "/batches", headers=user.headers)).json()
    assert [b["id"] for b in listed["batches"]] == [batch["id"]]
    stats = (await api.get(API + "/stats", headers=user.headers)).json()["stats"]
    assert stats["totalBatches"] == 1
    assert stats["totalSingleRemovals"] == 0
    assert stats["completedByTier"] == {"basic": 24}
    assert stats["creditsUsed"] == 71 - refund


async def test_batch_size_limits(api, make_user, settings: Settings) -> None:
    user = await make_user(100)
    one = await api.post(
        API + "/batches", files=_files([("a.jpg", variant(settings, 1))]), data={"tier": "basic"}, headers=user.headers
    )
    assert one.status_code == 422
    assert one.json()["code"] == "batch_too_small"
    none = await api.post(API + "/batches", data={"tier": "basic"}, headers=user.headers)
    # without files httpx sends a urlencoded form: refused, before it is read, for what it is
    assert none.status_code == 415 and none.json()["code"] == "unsupported_content_type", none.text
    assert none.headers["content-type"].startswith("application/problem+json")
    empty = await api.post(API + "/batches", files={"tier": (None, "basic")}, headers=user.headers)
    assert empty.status_code in (400, 422)
    assert empty.headers["content-type"].startswith("application/problem+json")
    assert await balance(api, user) == 100


async def test_one_unreadable_upload_rejects_the_batch_listing_every_problem(
    api, make_user, settings: Settings
) -> None:
    user = await make_user(100)
    images = [("ok.jpg", variant(settings, 1)), ("notes.txt", b"just text"), ("ok2.jpg", variant(settings, 2))]
    r = await api.post(API + "/batches", files=_files(images), data={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 415
    body = r.json()
    assert body["code"] == "unsupported_media_type"
    assert body["errors"] == [
        {"index": 1, "filename": "notes.txt", "code": "unsupported_media_type", "detail": body["errors"][0]["detail"]}
    ]
    assert await balance(api, user) == 100
    assert (await api.get(API + "/batches", headers=user.headers)).json()["batches"] == []


async def test_batch_with_insufficient_credits(api, make_user, settings: Settings) -> None:
    user = await make_user(5)
    images = [(f"{i}.jpg", variant(settings, i)) for i in range(3)]
    r = await api.post(API + "/batches", files=_files(images), data={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 402
    assert r.json()["required"] == 9
    assert await balance(api, user) == 5


async def test_another_users_batch_is_not_found(api, make_user, settings: Settings) -> None:
    owner = await make_user(100)
    other = await make_user(100)
    images = [(f"{i}.jpg", variant(settings, i)) for i in range(2)]
    r = await api.post(API + "/batches", files=_files(images), data={"tier": "basic"}, headers=owner.headers)
    assert r.status_code == 202
    batch = r.json()
    for path in (f"/batches/{batch['id']}", f"/batches/{batch['batchId']}", f"/batches/{batch['id']}/download"):
        response = await api.get(API + path, headers=other.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


async def test_batch_idempotency(api, make_user, settings: Settings) -> None:
    user = await make_user(100)
    images = [(f"{i}.jpg", variant(settings, i)) for i in range(2)]
    key = {"Idempotency-Key": "batch-1", **user.headers}
    first = await api.post(API + "/batches", files=_files(images), data={"tier": "basic"}, headers=key)
    second = await api.post(API + "/batches", files=_files(images), data={"tier": "basic"}, headers=key)
    assert first.json()["id"] == second.json()["id"]
    assert await balance(api, user) == 100 - 6
