"""What the browser tests share: axe-core's WCAG 2.2 AA check of a page, screenshots,
and signing in as a demo citizen (the fixtures are in tests/browser/conftest.py)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "portal/assets/node_modules/axe-core/axe.min.js"
# The README's screenshots are refreshed on request (LEDGER_SCREENSHOTS=docs/portal make
# test); otherwise they go to a scratch folder, so a test run leaves the tree as it was.
SCREENSHOTS = Path(
    os.environ.get("LEDGER_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "ledger-portal-screenshots"
)
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def accessible(page: Page) -> None:
    """axe-core on the page as it stands: no violation at WCAG 2.2 A or AA."""
    page.evaluate(AXE.read_text())
    found: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA
    )
    violations = [
        (v["id"], v["help"], [n["html"][:120] for n in v["nodes"]]) for v in found["violations"]
    ]
    assert violations == [], f"{page.url}: {violations}"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, name: str) -> None:
    page.goto("/sign-in")
    page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/your-data$"))
