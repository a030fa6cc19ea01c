"""remove.bg's features on our own API, end to end with a real worker: an image fetched from a URL,
a background image (URL or file), roi, scale + position, a shadow, a hard alpha, zip; and the URLs the
service refuses to fetch, with nothing charged."""

from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image

from core.settings import Settings
from tests.support.api_client import API, balance, submit
from tests.support.image_server import ImageServer, Route
from tests.support.images import quokka, striped_backdrop

pytestmark = pytest.mark.models


async def _result(api, user, job_id: str) -> bytes:
    done = await api.get(f"{API}/jobs/{job_id}", headers=user.headers)
    assert done.json()["status"] == "completed", done.json()
    result = await api.get(f"{API}/jobs/{job_id}/result", headers=user.headers)
    assert result.status_code == 200
    return bytes(result.content)


async def test_an_image_url_on_a_background_url_scaled_to_the_bottom_with_a_shadow(
    api, make_user, run_worker, settings: Settings, image_server: ImageServer
) -> None:
    user = await make_user(100)
    photo = image_server.image("/products/quokka.jpg", quokka(settings))
    backdrop = image_server.image("/backdrops/studio.png", striped_backdrop(), "image/png")
    ids = []
    for shadow in ("false", "true"):
        r = await api.post(
            API + "/jobs",
            files={"image_url": (None, photo), "bg_image_url": (None, backdrop)},
            data={"tier": "basic", "scale": "60%", "position": "50% 100%", "add_shadow": shadow},
            headers=user.headers,
        )
        assert r.status_code == 202, r.text
        assert r.json()["originalFilename"] == "quokka.jpg"
        ids.append(r.json()["id"])
    await run_worker()
    plain, shaded = [Image.open(io.BytesIO(await _result(api, user, job_id))) for job_id in ids]
    assert (plain.mode, plain.size) == ("RGB", (960, 643))  # the input's canvas, opaque: the background is the image
    px = np.asarray(plain).astype(int)
    assert px[5, 5].tolist() == [0, 0, 255] and px[5, -5].tolist() == [0, 255, 0]  # cover-scaled stripes
    stripes = np.zeros_like(px)
    stripes[:, :480] = (0, 0, 255)
    stripes[:, 480:] = (0, 255, 0)
    subject = np.abs(px - stripes).max(axis=2) > 60
    subject[:, 470:490] &= subject[:, 440:460].any(axis=1, keepdims=True)  # not the stripes' blended seam
    rows, cols = np.flatnonzero(subject.any(axis=1)), np.flatnonzero(subject.any(axis=0))
    width, height = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    # the subject's box spans 60 % of the canvas in its limiting direction, centred, standing on the bottom
    assert max(width / 960, height / 643) == pytest.approx(0.6, abs=0.04)
    assert rows[-1] >= 636 and abs((cols[0] + cols[-1]) / 2 - 480) <= 12
    # the shadow only darkens the background next to the subject; the subject and far corners are untouched
    darker = np.asarray(shaded).astype(int).sum(axis=2) < px.sum(axis=2) - 30
    interior = cv2.erode(subject.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)  # not its soft edge
    assert darker.sum() > 1000 and not (darker & interior).any() and not darker[:100].any()
    assert await balance(api, user) == 100 - 2 * 3


async def test_a_batch_on_one_background_file_with_a_roi_and_hard_edges(
    api, make_user, run_worker, settings: Settings
) -> None:
    user = await make_user(100)
    image = quokka(settings)
    r = await api.post(
        API + "/batches",
        files=[
            ("images[]", ("a.jpg", image, "image/jpeg")),
            ("images[]", ("b.jpg", image, "image/jpeg")),
            ("bg_image_file", ("studio.png", striped_backdrop(), "image/png")),
        ],
        data={"tier": "basic", "roi": "0% 0% 50% 100%", "semitransparency": "false", "format": "png"},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    await run_worker()
    batch = (await api.get(f"{API}/batches/{r.json()['id']}", headers=user.headers)).json()
    assert batch["status"] == "completed", batch
    for image in batch["images"]:
        img = Image.open(io.BytesIO(await _result(api, user, image["jobId"])))
        px = np.asarray(img).astype(int)
        # outside the roi (the right half) nothing is foreground: only the background image shows
        right = px[:, 490:]
        assert ((right == [0, 0, 255]).all(axis=2) | (right == [0, 255, 0]).all(axis=2)).all()


async def test_zip_holds_colour_and_alpha(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(100)
    r = await submit(api, user, quokka(settings), format="zip", type="animal")
    assert r.status_code == 202, r.text
    await run_worker()
    with zipfile.ZipFile(io.BytesIO(await _result(api, user, r.json()["id"]))) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        colour = Image.open(io.BytesIO(archive.read("color.jpg")))
        alpha = Image.open(io.BytesIO(archive.read("alpha.png")))
    assert (colour.format, colour.size) == ("JPEG", (960, 643))
    assert alpha.mode == "L" and alpha.getextrema() == (0, 255)


@pytest.mark.parametrize(
    ("make_url", "code", "status"),
    [
        (lambda s: "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "image_url_refused", 422),
        (lambda s: "http://10.0.0.7/photo.jpg", "image_url_refused", 422),
        (lambda s: "http://[fd12::1]/photo.jpg", "image_url_refused", 422),
        (lambda s: s.redirect("/moved.jpg", "http://192.168.0.1/admin"), "image_url_refused", 422),
        (lambda s: s.url("/gigabyte.jpg"), "image_url_too_large", 413),
        (lambda s: s.url("/missing.jpg"), "image_url_unreachable", 422),
    ],
    ids=["metadata", "private", "unique-local", "redirect into private", "1 GB body", "404"],
)
async def test_urls_the_service_will_not_fetch_are_refused_and_cost_nothing(
    api, make_user, image_server: ImageServer, make_url, code: str, status: int
) -> None:
    image_server.routes["/gigabyte.jpg"] = Route(endless=True, headers={"Content-Type": "image/jpeg"})
    user = await make_user(50)
    url = make_url(image_server)
    for field in ("image_url", "bg_image_url"):
        files = {field: (None, url)}
        if field == "bg_image_url":
            files["image_url"] = (None, image_server.image("/ok.jpg", b"\xff\xd8\xff" + b"\0" * 100))
        r = await api.post(API + "/jobs", files=files, data={"tier": "basic"}, headers=user.headers)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["field"] == field
        for internal in ("169.254", "10.0.0.7", "fd12", "192.168", "127.0.0.1"):
            assert internal not in problem["detail"]
    assert await balance(api, user) == 50
    jobs = await api.get(API + "/jobs", headers=user.headers)
    assert jobs.json()["jobs"] == []


async def test_one_image_source_and_one_background_source(api, make_user, settings: Settings) -> None:
    user = await make_user(50)
    neither = await api.post(API + "/jobs", files={"tier": (None, "basic")}, headers=user.headers)
    assert (neither.status_code, neither.json()["code"]) == (422, "missing_source")
    both = await submit(api, user, quokka(settings), image_url="https://example.com/a.jpg")
    assert (both.status_code, both.json()["code"]) == (422, "missing_source")
    colour_and_image = await submit(
        api, user, quokka(settings), bg_color="#fff", bg_image_url="https://example.com/bg.jpg"
    )
    assert colour_and_image.status_code == 422 and "not both" in colour_and_image.json()["detail"]
    key_named = await submit(api, user, quokka(settings), bg_image="inputs/someone-elses.jpg")
    assert (key_named.status_code, key_named.json()["code"]) == (422, "unknown_field")
    assert await balance(api, user) == 50
