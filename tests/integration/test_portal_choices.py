"""Your choices through the portal's own pages, on real servers: a consent of an
organisation that takes changes online is withdrawn by the signed-in citizen and the next
page says what the consent view now holds; an organisation that has not opted in (or
whose key was revoked) is shown with no change offered, and a change posted anyway is
not made."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ledger_emitter import canonical

from api.app import create_app
from ledger import choices, held_keys
from ledger.application import Ledger
from ledger.choices import PORTAL
from ledger.domain.consent import Consent
from ledger.held_keys import HeldSigners
from ledger.incoming import Direct, Incoming, Status
from ledger.settings import Settings
from ledger.subjects import SubjectId
from ledger.writing import WritePath
from tests.support.ledger import administration
from tests.support.views import running_projections

pytestmark = pytest.mark.integration

ALEX = SubjectId.from_text("nhs-number:9434765919")  # the development sign-in's Alex
PURPOSE = {"code": "updates", "text": "to send you updates about your claim by text message"}
TERMS = {
    "data_categories": [{"code": "contact-details", "text": "your phone number"}],
    "collection": {"method": "paper", "notice": {"version": "3", "sha256": "cd" * 32}},
}


@pytest.fixture
def portal(settings: Settings) -> Iterator[TestClient]:
    """DWP and HMRC, each with a consent Alex gave through its portal service; then
    HMRC's portal key revoked: it no longer takes changes online."""
    ledger = Ledger.from_settings(settings)
    admin = administration(ledger)
    assert ledger.trust is not None
    keyring = ledger.trust.keyring
    path = WritePath.from_settings(settings)
    for code, name in (
        ("DWP", "the Department for Work and Pensions"),
        ("HMRC", "HM Revenue and Customs"),
    ):
        admin.register_organisation(code, name)
        held_keys.enable(PORTAL, admin, keyring, code)
        emitter = HeldSigners(PORTAL, ledger, keyring).emitter(code)
        row = {"controller": code, "purpose": PURPOSE, "state": "withdrawn", "terms": TERMS}
        event = emitter.build(*choices.consent_again(ALEX, row))
        (outcome,) = path.submit([Incoming(canonical(event), Direct())])
        assert outcome.status is Status.RECORDED, outcome
    hmrc = HeldSigners(PORTAL, ledger, keyring).current("HMRC")
    admin.revoke_key(hmrc.source, hmrc.key_id, "HMRC takes choices by post only")
    path.close()
    ledger.close()
    with running_projections(settings), TestClient(create_app(settings)) as client:
        signed_in(client)
        yield client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def signed_in(client: TestClient) -> None:
    token = csrf(client.get("/sign-in").text)
    answer = client.post("/sign-in", data={"citizen": "Alex", "csrf_token": token})
    assert answer.status_code in (200, 303), answer.text


def cards(page: str) -> dict[str, str]:
    """Each summary card of the page, by the organisation in its title."""
    found = {}
    for card in page.split('<div class="govuk-summary-card">')[1:]:
        title = re.search(r'summary-card__title">([^<]+)<', card)
        assert title
        found[title.group(1).strip()] = card
    return found


def links(card: str) -> list[str]:
    return re.findall(r'href="(/choices/[0-9a-f-]{36}/[a-z]+)"', card)


def test_a_consent_withdrawn_in_the_portal_is_what_the_next_page_and_the_view_say(
    portal: TestClient,
) -> None:
    page = portal.get("/choices")
    dwp = cards(page.text)["The Department for Work and Pensions"]
    (withdraw,) = links(dwp)
    assert withdraw.endswith("/withdraw") and "Consent given" in dwp

    answer = portal.post(withdraw, data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/choices")

    after = portal.get("/choices").text
    assert "You have withdrawn your consent" in after and "The ledger has recorded this." in after
    assert "Consent withdrawn" in cards(after)["The Department for Work and Pensions"]
    assert "You have withdrawn your consent" not in portal.get("/choices").text  # once


def test_an_organisation_that_does_not_take_changes_online_is_offered_none(
    portal: TestClient,
) -> None:
    page = portal.get("/choices").text
    hmrc = cards(page)["HM Revenue and Customs"]
    assert links(hmrc) == []
    assert "does not take changes through this service yet" in hmrc

    consent_id = _consent_id(portal, "HMRC")
    posted = portal.post(f"/choices/{consent_id}/withdraw", data={"csrf_token": csrf(page)})

    assert posted.status_code == 404
    assert "Consent given" in cards(portal.get("/choices").text)["HM Revenue and Customs"]


def _consent_id(client: TestClient, controller: str) -> str:
    """The id of Alex's consent to ``controller`` in the consent view."""
    keyring = client.app.state.keyring  # type: ignore[attr-defined]
    return str(Consent.create_id(keyring.pseudonymiser.subject_key(ALEX), controller, PURPOSE))
