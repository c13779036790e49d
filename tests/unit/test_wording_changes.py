"""Plain English for shares, consents, opt-outs and requests: no codes."""

from __future__ import annotations

from datetime import UTC, datetime

from projections import wording

DAY = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
NAMES = {"DWP": "the Department for Work and Pensions", "HMRC": "HM Revenue and Customs"}
SHARE = {
    "sender": "DWP",
    "recipient": "HMRC",
    "reporter": "sender",
    "data_categories": [{"code": "income", "text": "your income"}],
    "purpose": {"code": "uc-earnings", "text": "to check earnings for Universal Credit"},
}


def test_a_share_names_both_bodies_what_and_why() -> None:
    assert wording.describe_share(NAMES, DAY, SHARE) == (
        "The Department for Work and Pensions shared your income with HM Revenue and Customs "
        "on 3 March 2026 to check earnings for Universal Credit."
    )
    received = wording.describe_share(NAMES, DAY, {**SHARE, "reporter": "recipient"})
    assert received.startswith("HM Revenue and Customs received your income from the Department")


def test_consent_and_opt_out_changes_read_as_the_citizens_own_actions() -> None:
    purpose = {"code": "research", "text": "research and planning"}
    assert wording.describe_change(
        "consent", "NHS England", DAY, {"change": "withdrawn", "purpose": purpose}
    ) == ("On 3 March 2026, you withdrew your consent to NHS England for research and planning.")
    assert wording.describe_change(
        "objection", "", DAY, {"change": "set", "purpose": purpose, "national": True}
    ) == ("On 3 March 2026, you opted out of your data being used for research and planning.")


def test_a_request_says_what_the_organisation_did_without_codes() -> None:
    text = wording.describe_change(
        "subject-access-request", "the Department for Work and Pensions", DAY, {"change": "refused"}
    )
    assert text.startswith("The Department for Work and Pensions refused your request")
    assert "Information Commissioner's Office" in text and "refused." not in text


def test_sentences_read_well_from_any_valid_display_text() -> None:
    """Services send display text in many shapes; the sentence still reads."""
    detail = {
        "action": "viewed",
        "record": "BENEFIT CLAIM",
        "purpose": {"code": "research", "text": "Research and planning."},
    }
    said = wording.describe_access("the Department for Work and Pensions", DAY, detail)
    assert said.endswith("looked at your benefit claim on 3 March 2026 for research and planning.")
    detail = {
        **detail,
        "record": "GP record",
        "purpose": {"code": "x", "text": "To check  a claim"},
    }
    said = wording.describe_access("NHS England", DAY, detail)
    assert said == "NHS England looked at your GP record on 3 March 2026 to check a claim."
