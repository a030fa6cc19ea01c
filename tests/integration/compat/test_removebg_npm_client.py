"""A remove.bg client from the npm registry, unmodified (``remove.bg`` 1.3.0; only the host it posts to
is changed, by a preloaded module), gets remove.bg's features from ``/v1.0/removebg``: an image URL, a
background image URL, roi, scale + position and a shadow, served by a loopback image server that
``IMAGE_URL_ALLOW_HOSTS`` allows. The client has no ``format`` option, so ``format=zip`` is checked
with a plain request at the end.

Each result is checked for what the parameter means, not only for a 200."""

from __future__ import annotations

import asyncio
import base64
import io
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from db import credits
from tests.support.image_server import ImageServer
from tests.support.images import quokka, striped_backdrop
from tests.support.npm_removebg import NpmRemoveBg, install
from tests.support.removebg import REMOVEBG, new_key

pytestmark = pytest.mark.models

PRICE = 8  # REMOVEBG_TIER: standard


@pytest.fixture(scope="module")
def npm_modules() -> Path:
    return install()


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


async def test_an_npm_remove_bg_client_gets_urls_backgrounds_roi_layout_and_shadows(
    npm_modules, base_url, make_user, running_worker, settings, image_server: ImageServer, tmp_path: Path
) -> None:
    user = await make_user(100)
    client = NpmRemoveBg(npm_modules, base_url)
    key = new_key(base_url, user)
    photo = image_server.image("/catalogue/quokka.jpg", quokka(settings))
    backdrop = image_server.image("/backdrops/stripes.png", striped_backdrop(), "image/png")

    def call(function: str, out: str, **options: object) -> dict[str, object]:
        answer = client.call(function, apiKey=key, size="full", outputFile=str(tmp_path / out), **options)
        assert answer["ok"], answer
        result: dict[str, object] = answer["result"]
        return result

    # image_url + bg_image_url + scale + position: on the background, half the canvas, bottom left
    placed = await asyncio.to_thread(
        call,
        "removeBackgroundFromImageUrl",
        "placed.jpg",
        url=photo,
        bg_image_url=backdrop,
        scale="50%",
        position="0% 100%",
        type="animal",
    )
    assert (placed["resultWidth"], placed["resultHeight"], placed["detectedType"]) == ("960", "643", "animal")
    assert placed["creditsCharged"] == str(PRICE)
    px = _pixels(tmp_path / "placed.jpg")
    assert px.shape == (643, 960, 3)
    assert np.abs(px[5, 5] - [0, 0, 255]).max() < 40 and np.abs(px[5, -5] - [0, 255, 0]).max() < 40
    stripes = np.zeros_like(px)
    stripes[:, :480], stripes[:, 480:] = (0, 0, 255), (0, 255, 0)
    subject = np.abs(px - stripes).max(axis=2) > 80
    subject[:, 470:490] = False  # the stripes' seam
    rows, cols = np.flatnonzero(subject.any(axis=1)), np.flatnonzero(subject.any(axis=0))
    # bottom left (the box counts faint edge pixels this colour test does not see)
    assert cols[0] <= 20 and rows[-1] >= 625
    assert max((cols[-1] + 1) / 960, (rows[-1] - rows[0] + 1) / 643) == pytest.approx(0.5, abs=0.06)

    # add_shadow: the same layout with a shadow adds shade next to the subject that was not there
    await asyncio.to_thread(
        call,
        "removeBackgroundFromImageUrl",
        "shadow.jpg",
        url=photo,
        bg_image_url=backdrop,
        scale="50%",
        position="0% 100%",
        add_shadow=True,
    )
    shaded = _pixels(tmp_path / "shadow.jpg")
    # (standing on the canvas's bottom edge, most of the shadow falls outside it)
    assert ((shaded.sum(axis=2) < px.sum(axis=2) - 20) & ~subject).sum() > 500

    # roi from a file: nothing right of the region is foreground (transparent PNG)
    local = tmp_path / "quokka.jpg"
    local.write_bytes(quokka(settings))
    await asyncio.to_thread(call, "removeBackgroundFromImageFile", "roi.png", path=str(local), roi="0% 0% 40% 100%")
    alpha = np.asarray(Image.open(tmp_path / "roi.png").getchannel("A"))
    assert alpha.shape == (643, 960) and alpha[:, 385:].max() == 0 and alpha[:, :384].max() == 255

    assert await credits.balance(user.id) == 100 - 3 * PRICE

    # a URL into the metadata service: refused in remove.bg's error shape, nothing charged
    refused = await asyncio.to_thread(
        client.call, "removeBackgroundFromImageUrl", apiKey=key, url="http://169.254.169.254/latest/meta-data/"
    )
    assert not refused["ok"] and refused["errors"][0]["code"] == "image_url_refused"
    assert await credits.balance(user.id) == 100 - 3 * PRICE


async def test_format_zip_gives_remove_bg_color_and_alpha(
    base_url, make_user, running_worker, settings, image_server: ImageServer
) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    url = image_server.image("/a.jpg", quokka(settings))
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        r = await http.post(
            REMOVEBG, headers={"X-Api-Key": key}, data={"image_url": url, "format": "zip", "size": "full"}
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/zip"
        json_answer = await http.post(
            REMOVEBG,
            headers={"X-Api-Key": key, "Accept": "application/json"},
            json={"image_url": url, "format": "zip", "size": "preview"},
        )
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
    colour = Image.open(io.BytesIO(archive.read("color.jpg")))
    alpha = Image.open(io.BytesIO(archive.read("alpha.png")))
    assert (colour.format, colour.size, alpha.mode, alpha.size) == ("JPEG", (960, 643), "L", (960, 643))
    assert alpha.getextrema() == (0, 255)
    inner = zipfile.ZipFile(io.BytesIO(base64.b64decode(json_answer.json()["data"]["result_b64"])))
    assert sorted(inner.namelist()) == ["alpha.png", "color.jpg"]


async def test_bg_image_file_as_a_multipart_part(base_url, make_user, running_worker, settings) -> None:
    user = await make_user(20)
    key = new_key(base_url, user)
    backdrop = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(backdrop, "PNG")
    files = {
        "image_file": ("quokka.jpg", quokka(settings), "image/jpeg"),
        "bg_image_file": ("backdrop.png", backdrop.getvalue(), "image/png"),
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        r = await http.post(REMOVEBG, headers={"X-Api-Key": key}, files=files, data={"size": "full"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"  # format=auto: nothing transparent is left
    corner = Image.open(io.BytesIO(r.content)).convert("RGB").getpixel((2, 2))
    assert isinstance(corner, tuple) and max(abs(a - b) for a, b in zip(corner, (30, 120, 200), strict=True)) < 12
