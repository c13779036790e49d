"""The browser tests' fixtures: `ledger run` with its demo data (one per test module),
Chromium, and a fresh browser context per test that fails the test if a page broke its
own Content Security Policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.test_ledger_run import Running, start_ledger, stop_ledger
from tests.support.browser import AXE, CHROMIUM
from tests.support.folders import server_dir


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with server_dir("ledger-portal-home-") as home:
        running = start_ledger(home)
        yield running
        stop_ledger(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` fetches the portal's assets (npm ci)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, running: Running) -> Iterator[Page]:
    context = browser.new_context(base_url=running.api, accept_downloads=True)
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )
    yield page
    context.close()
    assert refused == [], "the page broke its own Content Security Policy"
