"""A citizen uses the portal in a real browser (Chromium, driven by Playwright), against
the real product (`ledger run` with its demo data): signs in, reads and filters who has
used their data, opens an entry, downloads its proof and checks it offline, asks for a
copy of their data, raises a query, signs out; and is refused what is not theirs. Every
page visited is checked with axe-core: no WCAG 2.2 A or AA violation."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.test_ledger_run import Running, ledger_cli
from tests.support.browser import accessible, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


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
    expect(sentences).to_have_count(5)  # three looks at Alex's data, two consents
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

    expect(page.locator(".moj-timeline__item")).to_have_count(2)
    expect(page.locator(".moj-timeline")).to_contain_text("NHS England looked at your health")
    expect(page.locator(".moj-timeline")).to_contain_text("you gave consent to NHS England")
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


def _card(page: Page, organisation: str) -> Locator:
    return page.locator(".govuk-summary-card", has_text=organisation)


def test_a_citizen_withdraws_a_consent_and_sees_it_reflected(page: Page) -> None:
    sign_in(page, "Alex")
    page.get_by_role("link", name="Your choices").click()
    expect(page.get_by_role("heading", name="Your choices", exact=True)).to_be_visible()
    expect(_card(page, "NHS England")).to_contain_text(
        "You have given consent to NHS England using your data for research that could "
        "improve care."
    )
    accessible(page)
    screenshot(page, "your-choices")

    _card(page, "NHS England").get_by_role("link", name="Withdraw consent").click()
    expect(page.locator("h1")).to_have_text("Are you sure you want to withdraw your consent?")
    accessible(page)
    page.get_by_role("button", name="Withdraw consent").click()

    expect(page).to_have_url(re.compile(r"/choices$"))
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text("You have withdrawn your consent")
    expect(banner).to_contain_text("The ledger has recorded this.")
    expect(_card(page, "NHS England")).to_contain_text("Consent withdrawn")
    _card(page, "NHS England").get_by_text("History").click()
    expect(_card(page, "NHS England")).to_contain_text(
        "you withdrew your consent to NHS England for research that could improve care"
    )
    accessible(page)
    page.goto("/choices")  # the banner is shown once
    expect(page.locator(".govuk-notification-banner--success")).to_have_count(0)
    page.goto("/your-data?kind=consent")
    expect(page.locator(".moj-timeline__item").first).to_contain_text(
        "you withdrew your consent to NHS England"
    )

    page.goto("/choices")
    _card(page, "NHS England").get_by_role("link", name="Give consent again").click()
    expect(page.get_by_text("the same privacy notice as before (version 2026-01)")).to_be_visible()
    accessible(page)
    page.get_by_role("button", name="Give consent").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "You have given your consent"
    )
    expect(_card(page, "NHS England")).to_contain_text("Consent given")


def test_a_citizen_objects_to_a_use_of_their_data_then_lifts_the_objection(page: Page) -> None:
    sign_in(page, "Alex")
    page.goto("/choices")
    page.get_by_role("button", name="Object to a use of your data").click()
    page.get_by_role("button", name="Send your objection").click()  # nothing chosen
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the use of your data")
    accessible(page)
    page.get_by_label(
        "The Department for Work and Pensions using your data to process your Universal "
        "Credit application"
    ).check()
    page.get_by_role("button", name="Send your objection").click()

    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text("Your objection has been recorded")
    card = _card(page, "the Department for Work and Pensions")
    expect(card).to_contain_text("Objection in place")
    accessible(page)
    page.goto("/choices/object")  # what is objected to already is not offered again
    expect(page.get_by_label(re.compile("Department for Work and Pensions"))).to_have_count(0)

    page.goto("/choices")
    card.get_by_role("link", name="Lift objection").click()
    accessible(page)
    page.get_by_role("button", name="Lift objection").click()
    expect(banner).to_contain_text("You have lifted your objection")
    expect(card).to_contain_text("Objection lifted")


def test_a_choice_is_changed_only_by_its_citizen_with_a_form_of_theirs(
    page: Page, browser: Browser, running: Running
) -> None:
    sign_in(page, "Alex")
    page.goto("/choices")
    withdraw = str(
        _card(page, "Leeds City Council")
        .get_by_role("link", name="Withdraw consent")
        .get_attribute("href")
    )
    posted = page.request.post(withdraw, form={})  # Alex's session, no CSRF token
    assert posted.status == 403

    other = browser.new_context(base_url=running.api).new_page()
    sign_in(other, "Sam")
    assert other.goto(withdraw).status == 404  # type: ignore[union-attr]
    token = other.locator("input[name=csrf_token]").first.get_attribute("value")
    assert other.request.post(withdraw, form={"csrf_token": str(token)}).status == 404
    other.context.close()

    page.goto("/choices")
    expect(_card(page, "Leeds City Council")).to_contain_text("Consent given")


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


def test_a_consent_receipt_downloads_from_your_choices_and_checks_offline(
    page: Page, running: Running, tmp_path: Path
) -> None:
    sign_in(page, "Alex")
    page.goto("/choices")
    accessible(page)
    link = page.get_by_role("link", name=re.compile(r"^Download your receipt")).first
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href is not None and re.fullmatch(r"/choices/receipts/\d+", href)
    for _ in range(30):  # sealed about a second after the demo recorded it
        if page.request.get(href).status == 200:
            break
        page.wait_for_timeout(500)
    with page.expect_download() as downloading:
        link.click()
    receipt = tmp_path / downloading.value.suggested_filename
    assert re.fullmatch(r"consent-receipt-\d+\.json", receipt.name)
    downloading.value.save_as(receipt)
    (tmp_path / "log.vkey").write_text(page.request.get("/v1/log/key").json()["verifier_key"])

    checked = ledger_cli(
        running, "verify", "receipt", str(receipt), "--key", str(tmp_path / "log.vkey")
    )

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK: consent receipt")
