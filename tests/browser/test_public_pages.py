"""The portal's public pages in a real browser, signed out, against `ledger run` with its
demo data: how data is shared (the statistics as a chart, a table and a CSV file that
agree, small counts withheld as the API withholds them), the register of data sharing
agreements, and how to check the ledger (its key, and the commands it gives, run as it
gives them). Every page is reached from the start page or the footer and checked with
axe-core: no WCAG 2.2 A or AA violation."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cli.demo import ACCESSES, AGREEMENTS, PEOPLE_PER_SHARE, SERVICES, SHARES
from portal.statistics import HEADINGS, WITHHELD
from projections.statistics import month_of
from tests.e2e.test_ledger_run import Running, demo_token, get_json, ledger_cli
from tests.support.browser import accessible, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _demo_cells() -> set[tuple[object, str, str]]:
    """The statistics cells the demo's accesses fall in: (month, organisation, purpose);
    its shares make one more."""
    today = datetime.now(UTC).replace(hour=10, minute=15, second=0, microsecond=0)
    organisation = {source.split(":")[3]: org for source, (org, _) in SERVICES.items()}
    return {
        (month_of(today - timedelta(days=days)), organisation[short], purpose)
        for _, short, days, _, _, purpose, *_ in ACCESSES
    }


def _table(page: Page) -> list[list[str]]:
    rows = page.locator(".portal-statistics tbody tr")
    return [
        [cell.strip() for cell in rows.nth(i).locator("th, td").all_inner_texts()]
        for i in range(rows.count())
    ]


def _signed_out(page: Page) -> None:
    """The page was shown to someone not signed in (not sent to the sign-in page)."""
    expect(page).not_to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_the_public_pages_are_linked_from_the_start_page_and_the_footer(page: Page) -> None:
    page.goto("/")
    page.get_by_role("main").get_by_role("link", name="how your data is shared").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("How your data is shared")
    _signed_out(page)

    footer = page.locator(".govuk-footer")
    footer.get_by_role("link", name="Data sharing agreements").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register of data sharing agreements")
    footer.get_by_role("link", name="How to check the ledger").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("How to check the ledger")
    footer.get_by_role("link", name="How your data is shared").click()
    expect(page).to_have_url(re.compile(r"/how-data-is-shared$"))
    _signed_out(page)


def test_the_statistics_table_chart_and_csv_agree_and_withhold_small_counts(
    page: Page, running: Running, tmp_path: Path
) -> None:
    expected = len(_demo_cells()) + 1  # and the shares' cell
    for _ in range(30):  # the statistics view catches up with the demo within seconds
        page.goto("/how-data-is-shared")
        if len(_table(page)) == expected:
            break
        page.wait_for_timeout(500)
    table = _table(page)
    assert len(table) == expected
    accessible(page)
    screenshot(page, "how-data-is-shared")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download these figures (CSV file)").click()
    assert downloading.value.suggested_filename == "how-data-is-shared.csv"
    downloading.value.save_as(tmp_path / "figures.csv")
    with (tmp_path / "figures.csv").open(newline="", encoding="utf-8") as file:
        header, *rows = list(csv.reader(file))

    assert tuple(header) == HEADINGS
    assert [[*row[:5], *(f.replace(",", "") for f in row[5:])] for row in table] == rows
    # Every demo access cell counts one or two of three citizens, below the threshold of
    # 10: each is withheld, in the table, the file and the chart, as the API withholds it.
    # The shares' cell (12 shares of 12 people, alone in its organisation's month) is
    # published, everywhere the same.
    audited = get_json(f"{running.api}/v1/statistics", demo_token(running, "AUDITOR"))
    published = [c for c in audited["cells"] if not c["suppressed"]]
    assert len(audited["cells"]) == expected
    assert [(c["events"], c["people"]) for c in published] == [(SHARES, SHARES * PEOPLE_PER_SHARE)]
    shares = [row for row in table if row[2] != "Looked at people's data"]
    assert [row[5:] for row in shares] == [[f"{SHARES}", f"{SHARES * PEOPLE_PER_SHARE}"]]
    assert {f for row in table if row not in shares for f in row[5:]} == {WITHHELD}
    assert {f for row in rows if row[2] == "Looked at people's data" for f in row[5:]} == {WITHHELD}
    values = page.locator(".portal-chart__value").all_inner_texts()
    assert sorted(values) == sorted([WITHHELD] * (expected - 1) + [f"{SHARES}"])
    assert "The Department for Work and Pensions" in {row[1] for row in table}
    assert "uc-claim" not in page.inner_text("main")


def test_the_register_lists_each_agreement_in_plain_english(page: Page) -> None:
    page.goto("/agreements")

    cards = page.locator(".govuk-summary-card")
    expect(cards).to_have_count(len(AGREEMENTS))
    earnings = cards.filter(has_text="DSA-DWP-HMRC-2025-001")
    expect(earnings).to_contain_text("Earnings data for Universal Credit")
    expect(earnings).to_contain_text("The Department for Work and Pensions (controller)")
    expect(earnings).to_contain_text("HM Revenue and Customs (controller)")
    expect(earnings).to_contain_text("Welfare Reform Act 2012, section 131")
    expect(earnings).to_contain_text(
        "To carry out its official functions (UK GDPR Article 6(1)(e))"
    )
    expect(earnings).to_contain_text("From 1 April 2025, with no end date")
    hospital = cards.filter(has_text="Leaving hospital with care and support")
    expect(hospital).to_contain_text("NHS England (joint controller)")
    expect(hospital.locator(".govuk-summary-list__row", has_text="sensitive data")).to_contain_text(
        "Yes"
    )
    main = page.inner_text("main")
    assert "public-task" not in main and "joint-controller" not in main and "P6Y" not in main
    _signed_out(page)
    accessible(page)
    screenshot(page, "agreements")


def test_how_to_check_gives_the_logs_key_and_commands_that_work(
    page: Page, running: Running, tmp_path: Path
) -> None:
    page.goto("/how-to-check")
    shown_key = page.locator(".portal-code").inner_text().strip()
    assert shown_key == get_json(f"{running.api}/v1/log/key")["verifier_key"]
    commands = [c for c in page.locator("main code").all_inner_texts() if c.startswith("ledger ")]
    accessible(page)
    screenshot(page, "how-to-check")
    _signed_out(page)
    (tmp_path / "log.vkey").write_text(shown_key)

    # An entry's proof, downloaded as the page says, checked with the page's command.
    sign_in(page, "Alex")
    page.locator(".moj-timeline a").first.click()
    for _ in range(30):  # sealed about a second after it is recorded
        if page.get_by_text("Download the proof").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the proof").click()
    proof = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(proof)
    # A consent receipt, downloaded from Your choices, checked with the page's command.
    page.goto("/choices")
    receipt_link = page.get_by_role("link", name=re.compile(r"^Download your receipt")).first
    with page.expect_download() as downloading:
        receipt_link.click()
    receipt = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(receipt)
    # The whole log, exported by the operator, audited with the page's command.
    export = tmp_path / "log.jsonl"
    assert ledger_cli(running, "export", str(export)).returncode == 0
    files = {
        "entry-123-proof.json": str(proof),
        "consent-receipt-123.json": str(receipt),
        "log.vkey": str(tmp_path / "log.vkey"),
        "log.jsonl": str(export),
    }

    verify = [c for c in commands if c.startswith("ledger verify")]
    assert len(verify) == 3, commands
    for command in verify:
        args = [files.get(word, word) for word in command.split()[1:]]
        checked = ledger_cli(running, *args)
        assert checked.returncode == 0, (command, checked.stdout, checked.stderr)
        assert checked.stdout.startswith("OK"), (command, checked.stdout)


def test_a_public_page_is_the_same_for_a_signed_in_citizen(page: Page) -> None:
    sign_in(page, "Sam")
    page.goto("/agreements")

    expect(page.locator(".govuk-summary-card")).to_have_count(len(AGREEMENTS))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    accessible(page)
