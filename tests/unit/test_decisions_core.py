"""The consent decision as a pure function: facts in, allowed or denied with why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from projections.decisions import DecisionFacts, ShareQuestion, decide
from projections.policy import access_findings, agreement_covers
from tests.support.views import agreement_terms

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
QUESTION = ShareQuestion("DWP", "HMRC", "key", "uc-earnings", ["income"])


def facts(basis: str = "public-task", **kwargs: Any) -> DecisionFacts:
    terms = agreement_terms(basis, ("uc-earnings",))
    return DecisionFacts([{"reference": "DSA-1", "terms": terms}], **kwargs)


def test_an_agreement_with_a_gateway_allows_the_share_on_that_gateway() -> None:
    decision = decide(QUESTION, facts(), NOW)

    assert (decision.allowed, decision.basis, decision.agreement) == (True, "gateway", "DSA-1")
    assert decision.explanation == "under Welfare Reform Act 2012, section 131"


def test_an_opt_out_wins_over_any_agreement() -> None:
    decision = decide(QUESTION, facts(opted_out=True), NOW)
    assert (decision.allowed, decision.reason) == (False, "opted-out")


def test_no_agreement_or_one_that_does_not_cover_it_is_denied_with_the_reason() -> None:
    assert decide(QUESTION, DecisionFacts(), NOW).reason == "no-agreement"
    health = ShareQuestion("DWP", "HMRC", "key", "uc-earnings", ["income", "health"])
    assert decide(health, facts(), NOW).reason == "outside-agreement"
    leeds = ShareQuestion("DWP", "LEEDS", "key", "uc-earnings", ["income"])
    assert decide(leeds, facts(), NOW).reason == "no-agreement"


def test_a_consent_based_agreement_needs_an_active_unexpired_consent() -> None:
    given = {"state": "given", "expires_at": None, "terms": {}}
    lapsed = {**given, "expires_at": (NOW - timedelta(days=1)).isoformat()}
    withdrawn = {**given, "state": "withdrawn"}

    assert decide(QUESTION, facts("consent", consent=given), NOW).basis == "consent"
    for consent in (None, lapsed, withdrawn):
        assert decide(QUESTION, facts("consent", consent=consent), NOW).reason == "no-consent"


def test_an_agreement_not_yet_started_or_ended_does_not_cover() -> None:
    terms = {**agreement_terms(), "starts_on": "2027-01-01"}
    assert agreement_covers(terms, False, "DWP", "HMRC", "uc-earnings", ["income"]).problem == (
        "no-agreement"
    )


def test_accesses_without_a_purpose_or_in_an_emergency_are_flagged() -> None:
    assert access_findings({"code": "not-stated", "text": "x"}, False) == ["no-purpose"]
    assert access_findings({"code": "uc-claim", "text": "to pay you"}, True) == ["break-glass"]
    assert access_findings({"code": "uc-claim", "text": "to pay you"}, False) == []
