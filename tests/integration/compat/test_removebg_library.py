"""A third-party remove.bg client, unmodified: PyPI's ``removebg`` 0.04 (MIT, Brian Lam), with only its
endpoint and key changed, removes a background end to end against the real API and a real worker.

The library sends ``POST <endpoint>`` with ``X-Api-Key``, a multipart ``image_file`` (or a form with
``image_file_b64`` / ``image_url``) and ``size=regular``; it writes the response bytes to a file on 200
and raises ``requests.HTTPError`` otherwise.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
import removebg.removebg as removebg_module
import requests
from removebg import RemoveBg

from db import credits
from tests.support.images import variant
from tests.support.removebg import REMOVEBG, new_key, opened

pytestmark = pytest.mark.models


@pytest.fixture
def pointed_at(base_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The library's base URL: its module constant, the only thing a user would change."""
    endpoint = base_url + REMOVEBG
    monkeypatch.setattr(removebg_module, "API_ENDPOINT", endpoint)
    return endpoint


async def test_removebg_library_removes_a_background(
    pointed_at, base_url, make_user, running_worker, settings, tmp_path: Path
) -> None:
    user = await make_user(30)
    key = new_key(base_url, user)
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(variant(settings, 11, size=(800, 534)))
    client = RemoveBg(key, str(tmp_path / "removebg-errors.log"))

    await asyncio.to_thread(client.remove_background_from_img_file, str(photo))
    result = opened((tmp_path / "portrait.jpg_no_bg.png").read_bytes())
    # size=regular is remove.bg's 0.25 MP preview
    assert result.format == "PNG" and result.mode == "RGBA"
    assert result.size[0] * result.size[1] <= 250_000 and result.size[0] >= 600
    assert result.getchannel("A").getextrema() == (0, 255)

    out = tmp_path / "from-b64.png"
    encoded = base64.b64encode(variant(settings, 12, size=(400, 267))).decode()
    await asyncio.to_thread(client.remove_background_from_base64_img, encoded, new_file_name=str(out))
    assert opened(out.read_bytes()).mode == "RGBA"
    assert await credits.balance(user.id) == 30 - 2 * 8


async def test_removebg_library_removes_the_background_of_an_image_url(
    pointed_at, base_url, make_user, running_worker, settings, image_server, tmp_path: Path
) -> None:
    user = await make_user(30)
    client = RemoveBg(new_key(base_url, user), str(tmp_path / "removebg-errors.log"))
    url = image_server.image("/catalogue/portrait.jpg", variant(settings, 13, size=(600, 400)))
    out = tmp_path / "from-url.jpg"
    await asyncio.to_thread(client.remove_background_from_img_url, url, new_file_name=str(out), bg_color="white")
    result = opened(out.read_bytes())
    assert (result.format, result.size) == ("JPEG", (600, 400))  # remove.bg's auto format: opaque → JPEG
    assert await credits.balance(user.id) == 30 - 8


async def test_removebg_library_sees_errors_as_http_errors(pointed_at, base_url, make_user, tmp_path: Path) -> None:
    user = await make_user(30)
    client = RemoveBg(new_key(base_url, user), str(tmp_path / "removebg-errors.log"))
    with pytest.raises(requests.HTTPError) as refused:
        await asyncio.to_thread(client.remove_background_from_img_url, "http://169.254.169.254/latest/meta-data")
    answer = refused.value.response
    assert answer is not None and answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "image_url_refused"

    bad_key = RemoveBg("bgr_" + "0" * 43, str(tmp_path / "removebg-errors.log"))
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8\xff not really")
    with pytest.raises(requests.HTTPError) as forbidden:
        await asyncio.to_thread(bad_key.remove_background_from_img_file, str(photo))
    assert forbidden.value.response is not None and forbidden.value.response.status_code == 403
    assert await credits.balance(user.id) == 30
