"""The web page end to end in headless Chromium: sign in, upload, follow progress, compare, download; and the docs.

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

import pytest
from PIL import Image
from playwright.async_api import Browser, ConsoleMessage, Page, Request, expect

from core.settings import Settings
from tests.support.api_client import User
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
    background = await page.locator(".checkerboard").evaluate("el => getComputedStyle(el).backgroundImage")
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
