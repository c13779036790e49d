"""The public statistics in words, as a table, a chart and a CSV file: a withheld cell
(as :mod:`projections.oversight` serves it) is written 'withheld' everywhere, and text
an organisation sent cannot become a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from typing import Any

from portal.statistics import WITHHELD, Row, bar, csv_text, figure, rows

NAMES = {"DWP": "the Department for Work and Pensions", "HMRC": "HM Revenue and Customs"}
GATEWAYS = {"wra-2012-s131": "Welfare Reform Act 2012, section 131"}


def cell(kind: str, events: int | None, people: int | None, **changes: Any) -> dict[str, Any]:
    """A cell as the API serves it (``projections.oversight._cell``)."""
    return {
        "month": "2026-03",
        "kind": kind,
        "organisation": "DWP",
        "gateway": "wra-2012-s131" if kind == "share" else None,
        "purpose": {"code": "uc-claim", "text": "to process Universal Credit claims"},
        "events": events,
        "people": people,
        "suppressed": events is None,
        **changes,
    }


def test_cells_read_in_words_with_organisations_by_name() -> None:
    (access, shared, unknown) = rows(
        [
            cell("access", 30, 25),
            cell("share", None, None, organisation="HMRC"),
            cell("share", 10, 1250, gateway="dea-2017-s35"),
        ],
        NAMES,
        GATEWAYS,
    )

    assert access == Row(
        "March 2026",
        "The Department for Work and Pensions",
        "Looked at people's data",
        "To process Universal Credit claims",
        "None needed: used within the organisation",
        30,
        25,
    )
    assert (shared.organisation, shared.gateway, shared.withheld) == (
        "HM Revenue and Customs",
        "Welfare Reform Act 2012, section 131",
        True,
    )
    assert unknown.gateway == "dea-2017-s35"  # not in the register: named as sent


def test_a_share_without_a_gateway_says_none_was_given() -> None:
    (row,) = rows([cell("share", 10, 10, gateway=None)], NAMES, GATEWAYS)

    assert row.gateway == "None given"


def test_a_withheld_cell_is_the_same_word_in_the_table_and_the_file() -> None:
    table = rows([cell("access", None, None), cell("access", 1250, 980)], NAMES, GATEWAYS)

    _, withheld, shown = list(csv.reader(io.StringIO(csv_text(table))))

    assert [figure(table[0].events), figure(table[0].people)] == [WITHHELD, WITHHELD]
    assert withheld[5:] == [WITHHELD, WITHHELD]
    assert [figure(table[1].events), figure(table[1].people)] == ["1,250", "980"]
    assert shown[5:] == ["1250", "980"]


def test_text_that_a_spreadsheet_would_run_is_written_as_text() -> None:
    formula = '=HYPERLINK("https://evil.example","Click")'
    table = rows([cell("access", 30, 30, purpose={"code": "x", "text": formula})], NAMES, GATEWAYS)

    _, row = list(csv.reader(io.StringIO(csv_text(table))))

    assert row[3] == "'" + formula
    assert table[0].purpose == formula  # the page shows it as sent, escaped as HTML


def test_bars_are_in_steps_and_a_withheld_cell_has_none() -> None:
    assert [bar(v, 200) for v in (None, 0, 1, 49, 51, 200)] == [0, 0, 5, 25, 25, 100]
    assert bar(10, 0) == 0
