"""Transparency statistics: counts by month x organisation x gateway x purpose.

No personal data: only counts of events and of the people they concerned. Counts are
accumulated in memory for a batch and added with one upsert per cell at the end of it;
suppression of small counts happens when they are read (the threshold is a setting, so
changing it needs no rebuild).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from functools import singledispatchmethod
from typing import Any

from eventsourcing.utils import get_topic
from psycopg import Cursor

from ledger.domain.access import DataAccess
from ledger.domain.sharing import DataShare
from projections.view import Projection
from projections.wording import UK

Cell = tuple[date, str, str, str, str, str]  # month, kind, organisation, gateway, purpose, text


def month_of(moment: datetime) -> date:
    """The first day of the moment's month, in UK time.

    UK time is UTC or one hour ahead of it, so a UTC moment before 23:00 falls on the
    same day, and month, in both: only the last hour of a UTC day needs the time zone
    (~1 us an event counted, saved on 23 of 24 hours)."""
    if moment.tzinfo is UTC and moment.hour < 23:
        return date(moment.year, moment.month, 1)
    local = moment.astimezone(UK)
    return date(local.year, local.month, 1)


class StatisticsProjection(Projection):
    """Counts accesses and shares into monthly cells."""

    name = "statistics"
    topics = (get_topic(DataAccess.Recorded), get_topic(DataShare.Recorded))
    tables = (
        "CREATE TABLE IF NOT EXISTS {s}.counts ("
        "month date NOT NULL, kind text NOT NULL, organisation text NOT NULL, "
        "gateway text NOT NULL, purpose_code text NOT NULL, purpose text NOT NULL, "
        "events bigint NOT NULL, subjects bigint NOT NULL, "
        "PRIMARY KEY (month, kind, organisation, gateway, purpose_code))",
    )

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self._events: Counter[Cell] = Counter()
        self._subjects: Counter[Cell] = Counter()

    @singledispatchmethod
    def apply(self, event: Any, position: int, curs: Cursor[Any]) -> None:
        """Events of other types are not counted."""

    @apply.register
    def _(self, event: DataAccess.Recorded, position: int, curs: Cursor[Any]) -> None:
        cell = (
            month_of(event.occurred_at),
            "access",
            event.organisation,
            "",
            event.purpose["code"],
            event.purpose["text"],
        )
        self._count(cell, len(event.subject_keys))

    @apply.register
    def _(self, event: DataShare.Recorded, position: int, curs: Cursor[Any]) -> None:
        gateway = (event.legal_gateway or {}).get("code", "")
        cell = (
            month_of(event.occurred_at),
            "share",
            event.sender,
            gateway,
            event.purpose["code"],
            event.purpose["text"],
        )
        self._count(cell, event.subject_count)

    def _count(self, cell: Cell, subjects: int) -> None:
        self._events[cell] += 1
        self._subjects[cell] += subjects

    def flush(self, curs: Cursor[Any]) -> None:
        if self._events:
            curs.executemany(
                self.sql(
                    "INSERT INTO {s}.counts VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (month, kind, organisation, gateway, purpose_code) DO UPDATE "
                    "SET events = counts.events + EXCLUDED.events, "
                    "subjects = counts.subjects + EXCLUDED.subjects, purpose = EXCLUDED.purpose"
                ),
                [(*cell, n, self._subjects[cell]) for cell, n in sorted(self._events.items())],
            )
        self.discard()

    def discard(self) -> None:
        self._events.clear()
        self._subjects.clear()
        super().discard()
