"""The transparency statistics as the public pages show them: the cells the API serves
auditors (read by :func:`projections.oversight.statistics`, which has already withheld
small counts), in words, as table rows, as the bars of a chart and as a CSV file.

Nothing here sees a withheld figure: a withheld cell arrives with ``None`` for its
figures, and is written as :data:`WITHHELD` wherever it is shown, the same words in the
table and in the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from projections import wording

WITHHELD = "withheld"
KINDS = {
    "access": "Looked at people's data",
    "share": "Shared people's data with another organisation",
}
HEADINGS = ("Month", "Organisation", "What it did", "Why", "Law it relied on", "Times", "People")
NO_GATEWAY = "None needed: used within the organisation"
# The chart's bars are as long as a class says (no inline styles): 0, 5, ... 100 %.
BAR_STEP = 5


@dataclass(frozen=True)
class Row:
    """One cell of the statistics, in words; ``events`` and ``people`` are None when
    the cell is withheld."""

    month: str
    organisation: str
    kind: str
    purpose: str
    gateway: str
    events: int | None
    people: int | None

    @property
    def withheld(self) -> bool:
        return self.events is None

    @property
    def label(self) -> str:
        """What the row is about, as a bar of the chart names it."""
        what = f"{_mid_sentence(self.kind)} {_mid_sentence(self.purpose)}"
        return f"{self.organisation}, {self.month}: {what}"


def rows(
    cells: Sequence[dict[str, Any]], names: dict[str, str], gateways: dict[str, str]
) -> list[Row]:
    """The cells as :func:`projections.oversight.statistics` gives them (newest month
    first), organisations by name and gateways in words (their codes where the register
    of agreements does not name them)."""
    return [
        Row(
            month=_month(cell["month"]),
            organisation=wording.sentence_start(
                names.get(cell["organisation"], cell["organisation"])
            ),
            kind=KINDS.get(cell["kind"], cell["kind"]),
            purpose=wording.sentence_start(cell["purpose"]["text"]),
            gateway=_gateway(cell, gateways),
            events=None if cell["suppressed"] else cell["events"],
            people=None if cell["suppressed"] else cell["people"],
        )
        for cell in cells
    ]


def _mid_sentence(text: str) -> str:
    """'To check earnings' as it reads mid-sentence; 'NHS' as it was."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _gateway(cell: dict[str, Any], gateways: dict[str, str]) -> str:
    if cell["gateway"]:
        return gateways.get(cell["gateway"], cell["gateway"])
    return NO_GATEWAY if cell["kind"] == "access" else "None given"


def _month(text: str) -> str:
    """'2026-03' as 'March 2026'."""
    return f"{date.fromisoformat(text + '-01'):%B %Y}"


def figure(value: int | None) -> str:
    """A figure as the table shows it: '1,250', or 'withheld'."""
    return WITHHELD if value is None else f"{value:,}"


def bar(value: int | None, largest: int) -> int:
    """How long a figure's bar is, in percent of the chart's width, to the nearest step
    (at least one step for a figure above zero, so that it shows)."""
    if not value or largest <= 0:
        return 0
    return max(BAR_STEP, round(value * 100 / largest / BAR_STEP) * BAR_STEP)


def csv_text(table: Sequence[Row]) -> str:
    """The table as a CSV file: the same words and figures (without thousands commas)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADINGS)
    for row in table:
        writer.writerow(
            [
                *(
                    _cell_text(text)
                    for text in (row.month, row.organisation, row.kind, row.purpose, row.gateway)
                ),
                WITHHELD if row.events is None else row.events,
                WITHHELD if row.people is None else row.people,
            ]
        )
    return out.getvalue()


def _cell_text(text: str) -> str:
    """Text an organisation sent, made safe to open in a spreadsheet: one starting as a
    formula would is quoted, so it is read as text and never run."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
