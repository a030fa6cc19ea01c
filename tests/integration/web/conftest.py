"""Fixtures of the browser tests: headless Chromium (Playwright) on the real API as a process (``base_url``).

Chromium is Debian's (``apt-get install -y chromium``); Playwright only drives it, it downloads no browser.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> Path:
    if CHROMIUM.is_file():
        return CHROMIUM
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's Chromium. Install it with "
            "`apt-get install -y chromium` (package `chromium`; Playwright never downloads a browser here).",
            pytrace=False,
        )
    return Path(found)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser, base_url: str) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=base_url, accept_downloads=True, viewport={"width": 1100, "height": 900})
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
