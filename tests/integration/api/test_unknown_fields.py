"""A form field our upload routes do not take is refused (422 unknown_field), never silently ignored.

Before, ``qualityTier=industry`` on ``POST /jobs`` (the Lumiku frontend's name) was dropped, so the job
ran, and was charged, as the default basic tier.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from tests.support.api_client import API, balance, submit
from tests.support.images import variant


async def test_quality_tier_on_post_jobs_is_refused_not_run_as_basic(api, make_user, settings: Settings) -> None:
    user = await make_user(100)
    r = await api.post(
        API + "/jobs",
        files={"image": ("a.jpg", variant(settings, 0, size=(64, 48)), "image/jpeg")},
        data={"qualityTier": "industry"},
        headers=user.headers,
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "unknown_field"
    assert body["fields"] == ["qualityTier"]
    assert "'tier'" in body["detail"] and "/remove-single" in body["detail"]
    assert "tier" in body["accepted"]
    assert await balance(api, user) == 100
    assert (await api.get(API + "/jobs", headers=user.headers)).json()["jobs"] == []


@pytest.mark.parametrize("extra", [{"bgColor": "#fff"}, {"tier_": "basic"}, {"x" * 500: "1"}])
async def test_any_unknown_field_beside_known_ones_is_refused(api, make_user, settings: Settings, extra) -> None:
    user = await make_user(100)
    r = await submit(api, user, variant(settings, 1, size=(64, 48)), tier="basic", **extra)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "unknown_field"
    assert len(body["detail"]) < 600 and all(len(f) <= 64 for f in body["fields"])
    assert await balance(api, user) == 100


@pytest.mark.parametrize("extra", [{"qualityTier": "industry"}, {"batchName": "June"}])
async def test_unknown_fields_on_post_batches_are_refused(api, make_user, settings: Settings, extra) -> None:
    user = await make_user(100)
    files = [("images[]", (f"{i}.jpg", variant(settings, i, size=(64, 48)), "image/jpeg")) for i in range(2)]
    r = await api.post(API + "/batches", files=files, data={"tier": "basic", **extra}, headers=user.headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "unknown_field"
    assert r.json()["fields"] == list(extra)
    assert await balance(api, user) == 100


async def test_every_documented_field_is_still_accepted(api, make_user, settings: Settings) -> None:
    user = await make_user(100)
    fields: dict[str, Any] = {
        "format": "webp",
        "channels": "rgba",
        "bg_color": "#ffffff",
        "crop": "true",
        "crop_margin": "5",
    }
    r = await submit(api, user, variant(settings, 2, size=(64, 48)), tier="standard", size="64", **fields)
    assert r.status_code == 202, r.text
    assert r.json()["tier"] == "standard"


async def test_a_batch_takes_a_name_and_shows_it(api, make_user, settings: Settings) -> None:
    user = await make_user(100)
    files = [("images[]", (f"{i}.jpg", variant(settings, 20 + i, size=(64, 48)), "image/jpeg")) for i in range(2)]
    r = await api.post(API + "/batches", files=files, data={"tier": "basic", "name": " June "}, headers=user.headers)
    assert r.status_code == 202, r.text
    assert r.json()["name"] == "June"
    shown = await api.get(r.headers["location"], headers=user.headers)
    assert shown.json()["name"] == "June"
    for bad in ("x" * 256, "tab\there"):
        r = await api.post(API + "/batches", files=files, data={"tier": "basic", "name": bad}, headers=user.headers)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "invalid_options" and r.json()["parameter"] == "name"
    assert await balance(api, user) == 100 - 6
