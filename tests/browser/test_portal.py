"""A citizen uses the portal in a real browser (Chromium, driven by Playwright), against
the real product (`ledger run` with its demo data): signs in, reads and filters who has
used their data, opens an entry, downloads its proof and checks it offline, asks for a
copy of their data, raises a query, signs out; and is refused what is not theirs. Every
page visited is checked with axe-core: no WCAG 2.2 A or AA violation."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.test_ledger_run import Running, ledger_cli, start_ledger, stop_ledger
from tests.support.folders import server_dir

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

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


def entry_links(page: Page) -> list[str]:
    return [str(link.get_attribute("href")) for link in page.locator(".moj-timeline a").all()]


def test_a_citizen_signs_in_and_reads_who_has_used_their_data_newest_first(page: Page) -> None:
    page.goto("/")
    accessible(page)
    screenshot(page, "start")
    page.get_by_role("button", name="Start now").click()
    expect(page.get_by_text("Development only")).to_be_visible()
    accessible(page)
    page.get_by_role("button", name="Sign in").click()  # nobody chosen
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select who you want")
    accessible(page)

    sign_in(page, "Alex")

    expect(page.get_by_role("heading", name="Who has used your data")).to_be_visible()
    sentences = page.locator(
        ".moj-timeline__description p.govuk-body:not(:has(a)):not(:has(strong))"
    )
    expect(sentences).to_have_count(3)
    assert (
        sentences.nth(0)
        .inner_text()
        .startswith("The Department for Work and Pensions looked at your benefit claim on ")
    )
    days = [
        datetime.strptime(t, "%d %B %Y")
        for t in page.locator(".moj-timeline__date time").all_inner_texts()
    ]
    assert days == sorted(days, reverse=True)
    accessible(page)
    screenshot(page, "who-has-used-your-data")


def test_the_timeline_filters_by_organisation_kind_and_dates(page: Page) -> None:
    sign_in(page, "Alex")

    page.get_by_label("Organisation").select_option(label="NHS England")
    page.get_by_role("button", name="Apply filters").click()

    expect(page.locator(".moj-timeline__item")).to_have_count(1)
    expect(page.locator(".moj-timeline")).to_contain_text("NHS England looked at your health")
    expect(page.get_by_text("Emergency access")).to_be_visible()
    accessible(page)

    page.goto("/your-data")
    page.get_by_label("Shared your data").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("Nothing matches these filters.")).to_be_visible()

    page.goto("/your-data?from-day=31&from-month=2&from-year=2026")
    expect(page.locator(".govuk-error-summary")).to_contain_text("The date from must be a real")
    accessible(page)


def test_an_entry_says_who_what_why_and_under_which_law(page: Page) -> None:
    sign_in(page, "Alex")
    page.get_by_label("Organisation").select_option(label="NHS England")
    page.get_by_role("button", name="Apply filters").click()
    page.locator(".moj-timeline a").first.click()

    details = page.locator(".govuk-summary-list")
    expect(details).to_contain_text("Emergency doctor")
    expect(details).to_contain_text("Looked at your health summary")
    expect(details).to_contain_text("To give you care at the emergency department")
    expect(details).to_contain_text("To carry out its official functions (UK GDPR Article 6(1)(e))")
    expect(details).to_contain_text("Yes. Someone used emergency")
    assert "urn:ledger" not in page.content() and "data-accessed" not in page.inner_text("main")
    accessible(page)
    screenshot(page, "an-entry")


def _sealed_entry(page: Page) -> str:
    """Alex's newest entry, once the sealer has sealed it (about a second)."""
    sign_in(page, "Alex")
    href = entry_links(page)[0]
    for _ in range(30):
        page.goto(href)
        if page.get_by_text("Download the proof").count():
            return href
        page.wait_for_timeout(500)
    raise AssertionError("the entry was not sealed within 15 s")


def test_the_proof_of_an_entry_downloads_and_checks_offline(
    page: Page, running: Running, tmp_path: Path
) -> None:
    _sealed_entry(page)
    page.get_by_text("How to check the proof yourself").click()
    accessible(page)
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the proof").click()
    proof = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(proof)
    key = page.request.get("/v1/log/key").json()["verifier_key"]
    (tmp_path / "log.vkey").write_text(key)

    checked = ledger_cli(
        running, "verify", "--inclusion", str(proof), "--key", str(tmp_path / "log.vkey")
    )

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK")


def test_a_citizen_asks_for_a_copy_of_their_data_and_sees_when_it_is_due(page: Page) -> None:
    sign_in(page, "Alex")
    page.get_by_role("link", name="Your requests").click()
    accessible(page)
    page.get_by_role("button", name="Ask for a copy of your data").click()
    page.get_by_role("button", name="Send your request").click()  # nobody chosen
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the organisation")
    accessible(page)
    page.get_by_label("The Department for Work and Pensions").check()
    page.get_by_role("button", name="Send your request").click()

    expect(page.locator("h1")).to_contain_text("Your request for your data, SAR-")
    expect(page.locator(".govuk-body-l")).to_contain_text(
        "The Department for Work and Pensions is working on your request. It must answer by"
    )
    expect(page.locator(".govuk-summary-list")).to_contain_text("Must answer by")
    accessible(page)
    screenshot(page, "a-request")


def test_a_citizen_raises_a_query_about_an_entry_they_do_not_recognise(page: Page) -> None:
    sign_in(page, "Alex")
    page.goto("/your-data?kind=data-accessed")
    page.locator(".moj-timeline a").first.click()
    page.get_by_role("button", name="I don't recognise this").click()
    accessible(page)
    page.get_by_label("I do not recognise the reason it gives").check()
    page.get_by_role("button", name="Send your question").click()

    expect(page.locator("h1")).to_contain_text("Your question, Q-")
    expect(page.locator(".govuk-body-l")).to_contain_text(
        "The Department for Work and Pensions is looking into your question."
    )
    accessible(page)
    page.get_by_role("link", name="Back to your requests").click()
    expect(page.locator(".govuk-summary-card").first).to_be_visible()
    accessible(page)
    screenshot(page, "your-requests")


def test_signing_out_ends_the_session(page: Page) -> None:
    sign_in(page, "Alex")
    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    accessible(page)
    page.goto("/your-data")
    expect(page).to_have_url(re.compile(r"/sign-in$"))


def test_another_citizens_entry_is_not_found(
    page: Page, browser: Browser, running: Running
) -> None:
    sign_in(page, "Sam")
    sams = entry_links(page)[0]
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "Alex")

    response = page.goto(sams)

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert page.goto(sams + "/proof").status == 404  # type: ignore[union-attr]
    accessible(page)
    page.goto("/no-such-page")
    accessible(page)
    screenshot(page, "not-found")


def test_a_form_without_its_csrf_token_is_refused(page: Page) -> None:
    sign_in(page, "Alex")
    page.goto("/requests/new")
    page.get_by_label("HM Revenue and Customs").check()
    page.locator("input[name=csrf_token]").evaluate_all("inputs => inputs.forEach(i => i.remove())")

    page.get_by_role("button", name="Send your request").click()

    expect(page.get_by_role("heading", name="Sorry, we could not send that form")).to_be_visible()
    accessible(page)
    posted = page.request.post("/requests", form={"organisation": "HMRC"})
    assert posted.status == 403
    page.goto("/requests")
    expect(page.get_by_text("HM Revenue and Customs")).to_have_count(0)


def test_the_portal_answers_with_its_security_headers(page: Page) -> None:
    response = page.goto("/")
    assert response is not None
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9_-]+'", csp)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in headers  # development: plain HTTP
    cookie = next(c for c in page.context.cookies() if c["name"] == "portal-session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
