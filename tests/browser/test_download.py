"""A citizen downloads everything the ledger holds about them, in a real browser against
the real product (`ledger run` with its demo data): the page saying what is in the file
passes axe, the file is theirs and only theirs (Alex's three demo accesses, nothing of
Sam's or Jo's), each part in the shape the API gives citizens; and signed out, the
download is the sign-in page. A request's steps show as the Ministry of Justice's
timeline on its page."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pydantic import TypeAdapter

from api.schemas.cases import CitizenCase
from api.schemas.consents import ConsentRecordPublic
from api.schemas.timeline import TimelineEntryPublic
from cli.demo import ACCESSES
from portal.development import CITIZENS
from tests.support.browser import accessible, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ALEX = "Alex"
OTHERS = ("Sam", "Jo")


def _ask_dwp_for_a_copy(page: Page) -> str:
    """Alex's request to DWP, made through the portal; its reference."""
    page.goto("/requests/new")
    page.get_by_label("The Department for Work and Pensions").check()
    page.get_by_role("button", name="Send your request").click()
    expect(page.locator("h1")).to_contain_text("Your request for your data, SAR-")
    found = re.search(r"SAR-\S+", page.locator("h1").inner_text())
    assert found is not None
    return found.group(0)


def test_a_requests_steps_are_a_timeline(page: Page) -> None:
    sign_in(page, ALEX)
    _ask_dwp_for_a_copy(page)

    steps = page.locator(".moj-timeline .moj-timeline__item")
    expect(steps).to_have_count(1)
    expect(steps.locator(".moj-timeline__title")).to_have_text("Request received")
    expect(steps.locator(".moj-timeline__date time")).to_have_text(
        f"{date.today().day} {date.today():%B %Y}"
    )
    expect(steps.locator(".moj-timeline__description")).to_contain_text(
        "The Department for Work and Pensions received your request for a copy of your data on"
    )
    accessible(page)


def test_a_citizen_downloads_all_their_data_and_nobody_elses(page: Page, tmp_path: Path) -> None:
    sign_in(page, ALEX)
    reference = _ask_dwp_for_a_copy(page)
    page.goto("/your-data")
    page.get_by_role("button", name="Download all your data (JSON)").click()
    expect(page.get_by_role("heading", name="Download your data", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("your NHS number, the one you signed in with")
    accessible(page)

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download your data (JSON file)").click()
    download = downloading.value
    assert re.fullmatch(r"ledger-your-data-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text()
    data = json.loads(text)

    scheme, value = CITIZENS[ALEX].split(":", 1)
    assert data["identifiers"] == [{"scheme": scheme, "scheme_name": "NHS number", "value": value}]
    assert set(data["about_this_file"]) >= {"what_is_included", "what_is_not_included"}
    assert data["about_this_file"]["proof_address"].endswith("/your-data/{position}/proof")
    accesses = [e for e in data["timeline"] if e["kind"] == "data-accessed"]
    theirs = [row for row in ACCESSES if row[0] == ALEX]
    assert sorted((e["what"], e["why"], e["who"]) for e in accesses) == sorted(
        (row[3], row[6], row[7]) for row in theirs
    )
    positions = [e["position"] for e in data["timeline"]]
    assert len(set(positions)) == len(positions) == len(data["timeline"])
    TypeAdapter(list[TimelineEntryPublic]).validate_python(data["timeline"])
    cases = [CitizenCase.model_validate(c) for c in data["requests_and_questions"]]
    asked = {c.reference: [s.step for s in c.steps] for c in cases}
    assert asked[reference] == ["received"]
    TypeAdapter(list[ConsentRecordPublic]).validate_python(data["consents_and_opt_outs"])

    for other in OTHERS:
        assert CITIZENS[other].split(":", 1)[1] not in text
        for row in ACCESSES:
            if row[0] == other:
                assert row[3] not in text and row[6] not in text and row[7] not in text


def test_signed_out_the_download_is_the_sign_in_page(page: Page) -> None:
    for address in ("/your-data/download", "/your-data/download/file"):
        page.goto(address)
        expect(page).to_have_url(re.compile(r"/sign-in$"))
