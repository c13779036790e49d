"""The public page *How your data is shared* and its CSV file publish exactly what the
API publishes to auditors: a withheld cell shows no figure in either, only the word
'withheld', and the page and the file agree; with organisations by name and gateways
in the words of the register of agreements. No sign-in, no token."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from portal.statistics import HEADINGS, WITHHELD
from projections.agreements import AgreementsProjection
from projections.runner import LogReader, ViewRunner
from projections.statistics import StatisticsProjection
from projections.timeline import TimelineProjection
from tests.support.ledger import administration
from tests.support.tokens import bearer
from tests.support.views import access, agreement_terms, save_all, share

pytestmark = pytest.mark.integration

# One month, well inside it in UK time, so every figure falls in the same cells.
MONTH = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def project(settings: Settings, ledger: Ledger) -> None:
    """Bring the views the page reads up to the ledger's head."""
    with psycopg.connect(settings.database_url) as conn:
        for projection in (StatisticsProjection(), AgreementsProjection(), TimelineProjection()):
            projection.create(conn)
            ViewRunner(projection, LogReader(ledger), conn).catch_up()


@pytest.fixture
def figures(settings: Settings, ledger: Ledger) -> Settings:
    admin = administration(ledger)
    admin.register_organisation("DWP", "the Department for Work and Pensions")
    admin.register_organisation("HMRC", "HM Revenue and Customs")
    admin.register_agreement({"reference": "DSA-1", **agreement_terms()})
    # DWP's month of accesses: 30 claimants are published; 3 suspects are too few, and
    # 12 appellants, the next smallest, are withheld with them (or DWP's total less the
    # claimants would give the 3 away).
    save_all(ledger, [access(f"claimant-{i}", at=MONTH) for i in range(30)])
    save_all(
        ledger, [access(f"appellant-{i}", at=MONTH, purpose_code="uc-appeal") for i in range(12)]
    )
    save_all(ledger, [access(f"suspect-{i}", at=MONTH, purpose_code="fraud") for i in range(3)])
    # Ten bulk shares to HMRC, each of 125 people by manifest: 1,250 people.
    save_all(ledger, [share([], at=MONTH, manifest=(f"{i:064x}", 125)) for i in range(10)])
    project(settings, ledger)
    return settings


def test_the_page_and_its_csv_publish_what_auditors_are_shown(figures: Settings) -> None:
    with TestClient(create_app(figures)) as portal:
        page = portal.get("/how-data-is-shared")
        download = portal.get("/how-data-is-shared.csv")
        audited = portal.get("/v1/statistics", headers=bearer(figures, "auditor")).json()

    assert page.status_code == 200 and download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"] == (
        'attachment; filename="how-data-is-shared.csv"'
    )
    published = [(c["purpose"]["code"], c["events"], c["people"]) for c in audited["cells"]]
    assert published == [
        ("fraud", None, None),
        ("uc-appeal", None, None),
        ("uc-claim", 30, 30),
        ("uc-earnings", 10, 1250),
    ]
    header, *rows = list(csv.reader(io.StringIO(download.text)))
    assert tuple(header) == HEADINGS
    dwp = "The Department for Work and Pensions"
    why = "To process your Universal Credit application"
    used = "Looked at people's data"
    within = "None needed: used within the organisation"
    assert rows == [
        ["March 2026", dwp, used, why, within, WITHHELD, WITHHELD],
        ["March 2026", dwp, used, why, within, WITHHELD, WITHHELD],
        ["March 2026", dwp, used, why, within, "30", "30"],
        [
            "March 2026",
            dwp,
            "Shared people's data with another organisation",
            "To check earnings for Universal Credit",
            "Welfare Reform Act 2012, section 131",
            "10",
            "1250",
        ],
    ]
    table = _table(page.text)
    assert table == [
        [*row[:5], *(f"{int(n):,}" if n.isdigit() else n for n in row[5:])] for row in rows
    ]
    assert "1,250" in page.text
    assert not re.search(r">\s*(12|3)\s*<", page.text), "a withheld figure is on the page"


def _table(html: str) -> list[list[str]]:
    """The statistics table's body, cell by cell, as text."""
    body = html.split('<tbody class="govuk-table__body">', 1)[1].split("</tbody>", 1)[0]
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip().replace("&#39;", "'")
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]
