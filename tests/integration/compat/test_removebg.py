"""The remove.bg-compatible API, contract by contract: the requests remove.bg clients send (multipart,
base64 in a form, JSON), the headers and fields they read, and remove.bg's error shape and status
codes, against the real API process and a real worker with the real models."""

from __future__ import annotations

import base64

import httpx
import pytest

from core.settings import Settings
from db import credits
from tests.support.api_client import API
from tests.support.images import variant
from tests.support.removebg import ACCOUNT, REMOVEBG, blank_jpeg, new_key, opened, the_error

pytestmark = pytest.mark.models

STANDARD_PRICE = 8  # REMOVEBG_TIER defaults to standard


async def post(base_url: str, key: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        return await http.post(REMOVEBG, headers={"X-Api-Key": key, **kwargs.pop("headers", {})}, **kwargs)


async def test_multipart_image_file_returns_the_cutout_with_remove_bg_headers(
    base_url, make_user, running_worker, settings: Settings
) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    photo = variant(settings, 1, size=(640, 427))
    r = await post(base_url, key, files={"image_file": ("photo.jpg", photo, "image/jpeg")}, data={"size": "auto"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-credits-charged"] == str(STANDARD_PRICE)
    assert (r.headers["x-width"], r.headers["x-height"]) == ("640", "427")
    assert r.headers["x-type"] == "other"
    img = opened(r.content)
    assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (640, 427))
    alpha = img.getchannel("A")
    assert alpha.getextrema() == (0, 255)  # a real cut-out: transparent background, opaque subject
    left, top = int(r.headers["x-foreground-left"]), int(r.headers["x-foreground-top"])
    width, height = int(r.headers["x-foreground-width"]), int(r.headers["x-foreground-height"])
    assert 0 < width <= 640 and 0 < height <= 427 and left + width <= 640 and top + height <= 427
    assert await credits.balance(user.id) == 20 - STANDARD_PRICE


async def test_default_size_is_preview_a_quarter_megapixel(base_url, make_user, running_worker, settings) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    photo = variant(settings, 2, size=(1000, 750))
    r = await post(base_url, key, files={"image_file": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 200, r.text
    width, height = int(r.headers["x-width"]), int(r.headers["x-height"])
    assert width * height <= 250_000 and width >= 570  # as large as the budget allows, aspect kept
    assert abs(width / height - 1000 / 750) < 0.01
    assert opened(r.content).size == (width, height)


async def test_base64_in_a_urlencoded_form_with_bg_color_gives_a_jpeg(
    base_url, make_user, running_worker, settings
) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    photo = variant(settings, 3, size=(480, 320))
    form = {"image_file_b64": base64.b64encode(photo).decode(), "size": "full", "bg_color": "81d4fa"}
    r = await post(base_url, key, data=form)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"  # format=auto: nothing transparent is left
    img = opened(r.content)
    assert (img.format, img.size) == ("JPEG", (480, 320))
    corner = img.convert("RGB").getpixel((0, 0))
    assert isinstance(corner, tuple) and all(abs(a - b) <= 12 for a, b in zip(corner, (0x81, 0xD4, 0xFA), strict=True))


async def test_json_body_and_json_answer_with_crop(base_url, make_user, running_worker, settings) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    photo = variant(settings, 4, size=(640, 427))
    body = {"image_file_b64": base64.b64encode(photo).decode(), "size": "auto", "crop": True, "format": "png"}
    r = await post(base_url, key, json=body, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    data = r.json()["data"]
    assert set(data) == {"result_b64", "foreground_top", "foreground_left", "foreground_width", "foreground_height"}
    img = opened(base64.b64decode(data["result_b64"]))
    assert img.mode == "RGBA" and img.size == (int(r.headers["x-width"]), int(r.headers["x-height"]))
    assert img.size[0] < 640 or img.size[1] < 427  # cropped to the subject
    # cropped with no margin: the subject fills the result
    assert (data["foreground_left"], data["foreground_top"]) == (0, 0)
    assert (data["foreground_width"], data["foreground_height"]) == img.size


async def test_channels_alpha_is_the_mask(base_url, make_user, running_worker, settings) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    photo = variant(settings, 5, size=(320, 214))
    r = await post(base_url, key, files={"image_file": ("m.jpg", photo)}, data={"channels": "alpha", "size": "full"})
    assert r.status_code == 200, r.text
    assert opened(r.content).mode == "L"


async def test_no_subject_is_unknown_foreground_and_refunded(base_url, make_user, running_worker) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    r = await post(base_url, key, files={"image_file": ("grey.jpg", blank_jpeg())})
    assert r.status_code == 400
    assert the_error(r)["code"] == "unknown_foreground"
    assert await credits.balance(user.id) == 20


async def test_account_reports_credits_and_free_calls(base_url, make_user) -> None:
    user = await make_user(123)
    key = new_key(base_url, user)
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.get(ACCOUNT, headers={"X-Api-Key": key})
        assert r.status_code == 200
        attributes = r.json()["data"]["attributes"]
        assert attributes["credits"] == {"total": 123, "subscription": 0, "payg": 123, "enterprise": 0}
        assert attributes["api"] == {"free_calls": 0, "sizes": "all"}
        # a starter subscription covers 20 standard images a day: that is remove.bg's "free calls"
        subscribed = await http.post(API + "/subscription", json={"plan": "starter"}, headers=user.headers)
        assert subscribed.status_code == 402  # 123 credits do not pay for it
        await credits.grant(user.id, 990, reason="test", entry_key=f"test-sub:{user.id}")
        assert (await http.post(API + "/subscription", json={"plan": "starter"}, headers=user.headers)).is_success
        attributes = (await http.get(ACCOUNT, headers={"X-Api-Key": key})).json()["data"]["attributes"]
        assert attributes["credits"]["total"] == 123
        assert attributes["api"]["free_calls"] == 20


async def test_a_subscription_covers_remove_bg_calls(base_url, make_user, running_worker, settings) -> None:
    user = await make_user(990)
    key = new_key(base_url, user)
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert (await http.post(API + "/subscription", json={"plan": "starter"}, headers=user.headers)).is_success
    photo = variant(settings, 6, size=(320, 214))
    r = await post(base_url, key, files={"image_file": ("s.jpg", photo)})
    assert r.status_code == 200, r.text
    assert r.headers["x-credits-charged"] == "0"
    async with httpx.AsyncClient(base_url=base_url) as http:
        attributes = (await http.get(ACCOUNT, headers={"X-Api-Key": key})).json()["data"]["attributes"]
    assert attributes["api"]["free_calls"] == 19
