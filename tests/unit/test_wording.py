"""What a citizen reads: plain English, UK dates, no type codes."""

from __future__ import annotations

from datetime import UTC, datetime

from projections import wording

DETAIL = {
    "action": "viewed",
    "record": "benefit claim",
    "purpose": {"code": "uc-claim", "text": "to process your Universal Credit application"},
}


def test_an_access_reads_as_a_sentence_with_the_organisation_first() -> None:
    text = wording.describe_access(
        "the Department for Work and Pensions", datetime(2026, 3, 3, 10, 15, tzinfo=UTC), DETAIL
    )

    assert text == (
        "The Department for Work and Pensions looked at your benefit claim on 3 March 2026 "
        "to process your Universal Credit application."
    )


def test_dates_are_uk_local_days_not_utc() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in British Summer Time.
    assert wording.day(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == "1 July 2026"


def test_every_action_has_words_and_no_code_leaks() -> None:
    for action, words in wording.ACTIONS.items():
        text = wording.describe_access(
            "NHS England", datetime(2026, 1, 5, tzinfo=UTC), {**DETAIL, "action": action}
        )
        assert text.startswith(f"NHS England {words} your benefit claim")
        assert "uc-claim" not in text


def test_lawful_bases_are_explained_with_their_article() -> None:
    assert wording.describe_basis({"article6": "legal-obligation"}) == (
        "because the law requires it (UK GDPR Article 6(1)(c))"
    )
    assert wording.describe_basis({}) == "under a lawful basis it did not state"


def test_categories_read_as_a_list() -> None:
    texts = [{"code": c, "text": c} for c in ("your income", "who lives with you", "your address")]

    assert wording.describe_categories(texts) == "your income, who lives with you and your address"
