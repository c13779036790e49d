"""The events a citizen's choices made online become (ledger.choices): each valid against
the published contract, on the terms the citizen agreed to before, and refused in a state
where it makes no sense, with a reason in plain English."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_emitter import Emitter, SigningKey

from ledger import choices
from ledger.catalogue import (
    CONSENT_GIVEN,
    CONSENT_WITHDRAWN,
    OBJECTION_LIFTED,
    OBJECTION_SET,
    validator,
)
from ledger.choices import PORTAL, CannotChange
from ledger.subjects import SubjectId

ALEX = SubjectId.parse("nhs-number", "943 476 5919")
NOTICE = {"version": "2026-01", "sha256": "ab" * 32, "url": "https://example.org/notice"}
TERMS = {
    "data_categories": [{"code": "health", "text": "your health records"}],
    "lawful_basis": {"article6": "consent", "article9": "explicit-consent"},
    "collection": {"method": "app", "notice": NOTICE},
}


def consent(state: str, terms: dict[str, Any] | None = None) -> dict[str, Any]:
    """A row of the consent view, as the portal reads it."""
    return {
        "kind": "consent",
        "controller": "NHSE",
        "purpose": {"code": "research", "text": "for research that could improve care"},
        "state": state,
        "terms": TERMS if terms is None else terms,
    }


def objection(state: str, controller: str = "DWP") -> dict[str, Any]:
    return {
        "kind": "objection",
        "controller": controller,
        "purpose": {"code": "uc-claim", "text": "to process your claim"},
        "state": state,
        "terms": {},
    }


def signed(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The event as the portal service would sign it, checked against the contract."""
    event = Emitter(PORTAL.source("NHSE"), SigningKey(b"\1" * 32)).build(event_type, data)
    errors = [e.message for e in validator(event_type).iter_errors(event)]
    assert errors == [], errors
    return event


def test_a_withdrawal_names_the_citizen_the_controller_and_the_purpose_only() -> None:
    event_type, data = choices.withdrawal(ALEX, consent("given"))

    assert event_type == CONSENT_WITHDRAWN
    assert data == {
        "subjects": [{"scheme": "nhs-number", "value": "9434765919"}],
        "controller": "NHSE",
        "purposes": [{"code": "research", "text": "for research that could improve care"}],
    }
    signed(event_type, data)


@pytest.mark.parametrize("state", ["withdrawn", "expired"])
def test_a_consent_not_in_force_cannot_be_withdrawn(state: str) -> None:
    with pytest.raises(CannotChange, match="nothing to withdraw"):
        choices.withdrawal(ALEX, consent(state))


def test_giving_consent_again_keeps_the_terms_and_notice_agreed_to_before() -> None:
    event_type, data = choices.consent_again(ALEX, consent("withdrawn"))

    assert event_type == CONSENT_GIVEN
    assert data["data_categories"] == TERMS["data_categories"]
    assert data["lawful_basis"] == TERMS["lawful_basis"]
    assert data["collection"] == {"method": "online", "notice": NOTICE}
    assert data["expires_at"] is None
    signed(event_type, data)


def test_consent_in_force_is_not_given_again_nor_one_whose_terms_are_unknown() -> None:
    with pytest.raises(CannotChange, match="already given"):
        choices.consent_again(ALEX, consent("renewed"))
    with pytest.raises(CannotChange, match="do not know what you would be agreeing to"):
        choices.consent_again(ALEX, consent("expired", terms={"lawful_basis": {}}))


def test_an_objection_carries_no_free_text_of_the_citizens() -> None:
    event_type, data = choices.objection(ALEX, "DWP", objection("lifted")["purpose"])

    assert event_type == OBJECTION_SET
    assert data["kind"] == "objection" and "grounds" not in data
    signed(event_type, data)


def test_an_objection_is_lifted_only_when_in_force_and_never_a_national_opt_out() -> None:
    event_type, data = choices.lifting(ALEX, objection("in-force"))
    assert event_type == OBJECTION_LIFTED and data["controller"] == "DWP"
    signed(event_type, data)

    with pytest.raises(CannotChange, match="nothing to lift"):
        choices.lifting(ALEX, objection("lifted"))
    with pytest.raises(CannotChange, match="national opt-out"):
        choices.lifting(ALEX, objection("in-force", controller="*"))


def test_the_portal_service_may_emit_exactly_the_four_changes() -> None:
    assert PORTAL.event_types() == sorted(
        [CONSENT_GIVEN, CONSENT_WITHDRAWN, OBJECTION_SET, OBJECTION_LIFTED]
    )
    assert PORTAL.source("LEEDS") == "urn:ledger:service:leeds:portal"
