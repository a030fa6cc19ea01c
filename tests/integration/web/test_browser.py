"""The web page end to end in headless Chromium: sign in, upload, follow progress, compare, put the cut-out on a
background, download; and the docs.

The API runs as a real uvicorn process; jobs are processed by a real arq worker (burst mode) with the real
models, so this module is marked ``models``.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.async_api import Browser, ConsoleMessage, Page, Request, expect

from core.settings import Settings
from tests.support.api_client import API, User
from tests.support.images import quokka_path, variant
from tests.support.processes import api_server, env_with

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = ROOT / "docs" / "images" / "web-page.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WORKER_TIMEOUT_MS = 30_000

MakeUser = Callable[..., Awaitable[User]]
RunWorker = Callable[..., Awaitable[dict[str, Any]]]


class Watch:
    """Everything the page asked for and every uncaught script error."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", self._on_request)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", self._on_console)

    def _on_request(self, request: Request) -> None:
        self.urls.append(request.url)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def external(self, base_url: str) -> list[str]:
        return [u for u in self.urls if not u.startswith((base_url + "/", "blob:", "data:"))]


def token_of(user: User) -> str:
    return user.headers["Authorization"].removeprefix("Bearer ")


async def sign_in(page: Page, user: User) -> None:
    await page.goto("/")
    await page.get_by_label("API token (JWT)").fill(token_of(user))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#workspace")).to_be_visible()


async def test_a_single_image_from_sign_in_to_download(
    page: Page, base_url: str, make_user: MakeUser, run_worker: RunWorker, settings: Settings
) -> None:
    watch = Watch(page)
    user = await make_user(100)
    await sign_in(page, user)
    await expect(page.get_by_test_id("balance")).to_have_text("100")
    await expect(page.locator("#subscription")).to_have_text("none")
    basic = page.get_by_role("radio", name="basic")
    await expect(basic).to_be_checked()
    await expect(basic).to_be_enabled()

    await page.get_by_label("Choose images or drop them here").set_input_files(quokka_path(settings))
    await expect(page.locator("#selection")).to_have_text("1 image selected: single job")
    await page.get_by_role("button", name="Remove background").click()

    progress = page.locator("#progress-text")
    await expect(progress).to_have_text("0 of 1 processed – pending")
    await expect(page.get_by_test_id("balance")).to_have_text("97")

    await run_worker()

    await expect(progress).to_have_text("1 of 1 processed – completed", timeout=WORKER_TIMEOUT_MS)
    await expect(page.locator("#progress")).to_have_attribute("value", "1")
    await expect(page.locator("#image-statuses li")).to_have_text(["quokka.jpg: completed"])
    await expect(page.locator("#compare")).to_be_visible()
    for image in ("#before", "#after"):
        await expect(page.locator(image)).to_have_js_property("complete", True)
        assert await page.locator(image).evaluate("img => img.naturalWidth") == 960
    checkerboard = page.locator(".checkerboard", has=page.locator("#after"))
    background = await checkerboard.evaluate("el => getComputedStyle(el).backgroundImage")
    assert "conic-gradient" in background
    await expect(page.get_by_test_id("balance")).to_have_text("97")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download result").click()
    download = await download_info.value
    assert download.suggested_filename == "quokka.png"
    path = await download.path()
    data = Path(path).read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(data)).mode == "RGBA"

    if os.environ.get("BGREMOVER_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.external(base_url) == []


async def test_two_images_make_a_batch_with_a_zip(
    page: Page, base_url: str, make_user: MakeUser, run_worker: RunWorker, settings: Settings, tmp_path: Path
) -> None:
    watch = Watch(page)
    user = await make_user(100)
    files = []
    for i in range(2):
        path = tmp_path / f"photo {i}.jpg"
        path.write_bytes(variant(settings, i, size=(320, 214)))
        files.append(path)
    await sign_in(page, user)
    await page.get_by_label("Choose images or drop them here").set_input_files(files)
    await expect(page.locator("#selection")).to_have_text("2 images selected: batch")
    await expect(page.locator("#discount-help")).to_contain_text("2 × 3 = 6 credits")
    await expect(page.locator("#discount-help")).to_contain_text("20–49 images: 5% off")
    # the batch is laid out by the server: every image on this backdrop, with a shadow
    backdrop = tmp_path / "backdrop.png"
    Image.new("RGB", (64, 48), (250, 200, 40)).save(backdrop)
    await page.get_by_label("Background", exact=True).select_option("image")
    await page.get_by_label("Background image").set_input_files(backdrop)
    await page.get_by_label("Add a shadow").check()
    await page.get_by_role("button", name="Remove backgrounds (2 images)").click()

    progress = page.locator("#progress-text")
    await expect(progress).to_contain_text("0 of 2 processed – pending")
    await expect(page.locator("#image-statuses li")).to_have_text(["photo 0.jpg: pending", "photo 1.jpg: pending"])
    await expect(page.get_by_test_id("balance")).to_have_text("94")

    await run_worker()

    await expect(progress).to_contain_text("2 of 2 processed – completed", timeout=WORKER_TIMEOUT_MS)
    await expect(page.locator("#image-statuses li")).to_have_text(["photo 0.jpg: completed", "photo 1.jpg: completed"])
    await expect(page.locator("#compare")).to_be_hidden()

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download ZIP").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(Path(await download.path()).read_bytes()))
    assert sorted(archive.namelist()) == ["001_photo_0.png", "002_photo_1.png"]
    for name in archive.namelist():
        assert archive.read(name).startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(archive.read(name))) as composed:
            assert composed.mode == "RGB" and composed.size == (320, 214)  # opaque: on the backdrop
            assert composed.getpixel((1, 1)) == (250, 200, 40)

    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.external(base_url) == []


async def test_no_credits_shows_the_problem_detail_and_code(
    page: Page, base_url: str, make_user: MakeUser, queue: Any, settings: Settings
) -> None:
    watch = Watch(page)
    user = await make_user(0)
    await sign_in(page, user)
    await expect(page.get_by_test_id("balance")).to_have_text("0")
    await page.get_by_label("Choose images or drop them here").set_input_files(quokka_path(settings))
    await page.get_by_role("button", name="Remove background").click()

    error = page.get_by_role("alert")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("Insufficient credits")
    await expect(page.locator("#error-code")).to_have_text("insufficient_credits")
    # refused from the balance before the upload is read (docs/security.md, upload bodies)
    await expect(page.locator("#error-detail")).to_contain_text("costs 3 credits but the balance is 0")
    await expect(page.get_by_test_id("balance")).to_have_text("0")
    assert watch.page_errors == []
    assert watch.external(base_url) == []


async def test_a_bad_token_is_refused_and_sign_out_forgets_the_token(
    page: Page, base_url: str, make_user: MakeUser
) -> None:
    await page.goto("/")
    await page.get_by_label("API token (JWT)").fill("not-a-jwt")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#error-code")).to_have_text("unauthorized")
    await expect(page.locator("#sign-in")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('bgremover.token')") is None

    user = await make_user(5)
    await sign_in(page, user)
    await expect(page.locator("#error")).to_be_hidden()
    await page.reload()  # the token survives a reload of the tab
    await expect(page.get_by_test_id("balance")).to_have_text("5")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#sign-in")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('bgremover.token')") is None


async def test_tiers_whose_model_is_missing_are_disabled(
    browser: Browser, make_user: MakeUser, settings: Settings, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "u2netp.onnx").symlink_to(settings.model_dir / "u2netp.onnx")  # only the basic tier's model
    user = await make_user(50)
    with api_server(env_with(MODEL_DIR=str(models))) as url:
        context = await browser.new_context(base_url=url)
        try:
            page = await context.new_page()
            await sign_in(page, user)
            await expect(page.get_by_role("radio", name="basic")).to_be_enabled()
            await expect(page.get_by_role("radio", name="basic")).to_be_checked()
            for tier in ("standard", "professional", "industry"):
                radio = page.get_by_role("radio", name=tier)
                await expect(radio).to_be_disabled()
                await expect(page.locator("label", has=radio)).to_contain_text("(unavailable)")
            await expect(page.get_by_role("button", name="Remove background")).to_be_disabled()
        finally:
            await context.close()


async def test_swagger_ui_renders_offline(page: Page, base_url: str) -> None:
    watch = Watch(page)
    await page.goto("/schema/swagger")
    await expect(page.get_by_text("OAS 3.1")).to_be_visible()
    await expect(page.locator(".opblock-summary-path").first).to_be_visible()
    await page.locator("#operations-jobs-createJob .opblock-summary").click()
    await expect(page.locator("#operations-jobs-createJob")).to_contain_text("insufficient_credits")
    assert watch.page_errors == []
    assert watch.external(base_url) == []
    assert any(u.endswith("/static/swagger-ui/swagger-ui-bundle.js") for u in watch.urls)


def gradient(width: int, height: int) -> Image.Image:
    """A smooth studio backdrop whose every pixel says where it is: red grows to the right, green downwards."""
    x = np.linspace(0.0, 1.0, width)[None, :].repeat(height, 0)
    y = np.linspace(0.0, 1.0, height)[:, None].repeat(width, 1)
    rgb = np.stack([60 + 150 * x, 80 + 120 * y, np.full_like(x, 170)], axis=-1)
    return Image.fromarray(rgb.round().astype(np.uint8), "RGB")


def covered(backdrop: Image.Image, width: int, height: int) -> np.ndarray:
    """The backdrop scaled to cover a width × height canvas, centred (remove.bg's bg_image), as float RGB."""
    c = max(width / backdrop.width, height / backdrop.height)
    size = (round(backdrop.width * c), round(backdrop.height * c))
    scaled = backdrop.resize(size, Image.Resampling.BILINEAR)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.asarray(scaled.crop((left, top, left + width, top + height)), dtype=np.float64)


def luminance(rgb: np.ndarray) -> np.ndarray:
    weights = np.array([0.299, 0.587, 0.114])
    return np.asarray(rgb @ weights, dtype=np.float64)


def subject_box(alpha: np.ndarray, threshold: int = 32) -> tuple[int, int, int, int]:
    """left, top, right, bottom (exclusive) of the pixels whose alpha is above ``threshold``."""
    ys, xs = np.nonzero(alpha > threshold)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


async def test_a_cut_out_on_a_background_image_with_a_shadow_is_downloaded(
    page: Page, base_url: str, make_user: MakeUser, run_worker: RunWorker, settings: Settings, tmp_path: Path
) -> None:
    """One image: the page composes the server's transparent cut-out onto a background image, with a
    shadow, resized to 60 % and centred, live; the download is that composite at full size, and changing
    the settings afterwards costs nothing."""
    watch = Watch(page)
    user = await make_user(100)
    backdrop = gradient(700, 900)  # portrait, so covering the landscape photo crops it top and bottom
    backdrop_path = tmp_path / "studio.png"
    backdrop.save(backdrop_path)
    photo = quokka_path(settings)
    with Image.open(photo) as img:
        width, height = img.size

    await sign_in(page, user)
    await page.get_by_label("Choose images or drop them here").set_input_files(photo)
    await page.get_by_label("Background", exact=True).select_option("image")
    await page.get_by_label("Background image").set_input_files(backdrop_path)
    await page.get_by_label("Add a shadow").check()
    await page.get_by_label("Resize the subject").check()
    await page.get_by_label("Subject size").fill("60")
    await expect(page.locator("#scale-value")).to_have_text("60%")
    await page.get_by_label("Position").select_option("center")
    await page.get_by_role("button", name="Remove background").click()
    await expect(page.get_by_test_id("balance")).to_have_text("97")

    await run_worker()

    await expect(page.locator("#progress-text")).to_have_text("1 of 1 processed – completed", timeout=WORKER_TIMEOUT_MS)
    preview = page.get_by_role("img", name="Live preview of the cut-out")
    await expect(preview).to_be_visible()
    assert await preview.evaluate("c => [c.width, c.height]") == [900, round(height * 900 / width)]

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download result").click()
    download = await download_info.value
    assert download.suggested_filename == "quokka-composed.png"
    result = Image.open(io.BytesIO(Path(await download.path()).read_bytes()))
    assert result.format == "PNG"
    assert result.size == (width, height)
    rgba = np.asarray(result.convert("RGBA"), dtype=np.float64)
    assert rgba[..., 3].min() == 255  # the background image covers everything
    got = rgba[..., :3]
    expected_bg = covered(backdrop, width, height)

    # where the subject went: the server's cut-out's box, 60 % of the canvas (its limiting side), centred
    async with httpx.AsyncClient(base_url=base_url, headers=user.headers) as api:
        job = (await api.get(API + "/jobs")).json()["jobs"][0]
        cutout = Image.open(io.BytesIO((await api.get(job["links"]["result"])).content))
    left, top, right, bottom = subject_box(np.asarray(cutout.getchannel("A")))
    k = 0.6 * min(width / (right - left), height / (bottom - top))
    w, h = (right - left) * k, (bottom - top) * k
    x0, y0 = (width - w) / 2, (height - h) / 2
    x1, y1 = x0 + w, y0 + h
    assert 0.58 <= max(w / width, h / height) <= 0.62

    # far from the subject (the corners, and the strip above its head) the pixels are the background image's
    far = np.zeros((height, width), dtype=bool)
    far[: int(y0) - 20, :] = True
    far[:, : int(x0) - 20] = True
    far[:, int(x1) + 20 :] = True
    diff = np.abs(got - expected_bg)[far]
    assert diff.mean() < 2.0 and diff.max() < 12, (diff.mean(), diff.max())
    # the subject is there: the middle of its box is not the backdrop
    middle = np.abs(got - expected_bg)[int(y0 + h * 0.4) : int(y0 + h * 0.6), int(x0 + w * 0.4) : int(x0 + w * 0.6)]
    assert middle.mean() > 20
    # under the subject, a shade the background image does not have there
    under = (slice(int(y1) + 2, int(y1) + 8), slice(int(x0 + w * 0.3), int(x1 - w * 0.3)))
    shade = luminance(got[under]).mean()
    plain = luminance(expected_bg[under]).mean()
    assert shade < 0.85 * plain, (shade, plain)
    assert (luminance(got[under]) <= luminance(expected_bg[under]) + 3).all()

    # live: without the shadow the preview lightens there at once, and nothing more is charged
    f = 900 / width
    spot = (round((x0 + w / 2) * f), round((y1 + 5) * f))
    pixel = "(c, [x, y]) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data)"
    with_shadow = await preview.evaluate(pixel, spot)
    drawn = await preview.get_attribute("data-rendered")
    await page.get_by_label("Add a shadow").uncheck()
    await expect(preview).not_to_have_attribute("data-rendered", drawn or "")
    without = await preview.evaluate(pixel, spot)
    assert sum(without[:3]) > sum(with_shadow[:3]) + 30, (with_shadow, without)
    await expect(page.get_by_test_id("balance")).to_have_text("97")

    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.external(base_url) == []
