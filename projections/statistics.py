"""Transparency statistics: counts by month x organisation x gateway x purpose.

Each cell counts events and distinct people. Who a cell's people are is kept beside it
(``members``: the cell and a subject key, a pseudonym; internal to the view, never
served), so a person seen again, in this batch or a later one, or in a rebuild, is
counted once. A bulk share reported by manifest and count lists no subjects to tell
apart: it adds its stated count, once per manifest (``manifests``: the sender's report
and the recipient's receipt of one share name the same manifest). A batch's counts are
gathered in memory and written with one upsert of its cells and one insert of its new
members (and one of its new manifests, if any); suppression of small
counts happens when they are read (:mod:`projections.suppression`; the threshold is a
setting, so changing it needs no rebuild).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import singledispatchmethod
from typing import Any

from eventsourcing.utils import get_topic
from psycopg import Connection, Cursor

from ledger.domain.access import DataAccess
from ledger.domain.erasure import Erasure
from ledger.domain.sharing import DataShare
from projections.view import Projection
from projections.wording import UK

Cell = tuple[date, str, str, str, str]  # month, kind, organisation, gateway, purpose code

# A batch's people: each member (subject key) or manifest new to its cell adds its people
# to the cell. Arrays go in binary (%b): PostgreSQL need not parse thousands of keys.
ADD_PEOPLE = (
    "WITH members AS ("
    " INSERT INTO {s}.members SELECT * FROM unnest(%b::integer[], %b::text[]) "
    " ON CONFLICT DO NOTHING RETURNING cell, 1 AS people), "
    "manifests AS ("
    " INSERT INTO {s}.manifests SELECT * FROM unnest(%b::integer[], %b::text[], %b::bigint[]) "
    " ON CONFLICT DO NOTHING RETURNING cell, subjects AS people), "
    "added AS ("
    " SELECT cell, sum(people) AS n FROM "
    " (SELECT * FROM members UNION ALL SELECT * FROM manifests) AS new GROUP BY cell) "
    "UPDATE {s}.cells SET people = people + added.n FROM added WHERE cells.id = added.cell"
)


def month_of(moment: datetime) -> date:
    """The first day of the moment's month, in UK time.

    UK time is UTC or one hour ahead of it, so a UTC moment before 23:00 falls on the
    same day, and month, in both: only the last hour of a UTC day needs the time zone
    (~1 us an event counted, saved on 23 of 24 hours)."""
    if moment.tzinfo is UTC and moment.hour < 23:
        return date(moment.year, moment.month, 1)
    local = moment.astimezone(UK)
    return date(local.year, local.month, 1)


TAGGED = "t:"


def counted(subject_keys: Sequence[str | None], position: int, vault: Any = None) -> list[str]:
    """The people an event counts, by their tag (``ledger.vault``: an erasure names the
    tags it erased, so their rows go with it; without a vault, by pseudonym). An erased
    subject (a view rebuilt after an erasure) still counts, as a person of their own, so
    figures once published do not change."""
    return [
        f"erased:{position}:{index}"
        if key is None
        else TAGGED + vault.tag(key).hex()
        if vault is not None
        else key
        for index, key in enumerate(subject_keys)
    ]


class StatisticsProjection(Projection):
    """Counts accesses and shares, and the people they concerned, into monthly cells."""

    name = "statistics"
    topics = (
        get_topic(DataAccess.Recorded),
        get_topic(DataShare.Recorded),
        get_topic(Erasure.Recorded),
    )
    tables = (
        "CREATE TABLE IF NOT EXISTS {s}.cells ("
        "id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "month date NOT NULL, kind text NOT NULL, organisation text NOT NULL, "
        "gateway text NOT NULL, purpose_code text NOT NULL, purpose text NOT NULL, "
        "events bigint NOT NULL, people bigint NOT NULL, "
        "UNIQUE (month, kind, organisation, gateway, purpose_code))",
        # Who each cell's people are (their tags), to count each once; never served.
        # Keys compare as bytes (C collation): a language's collation only costs here.
        "CREATE TABLE IF NOT EXISTS {s}.members ("
        'cell integer NOT NULL, subject_key text COLLATE "C" NOT NULL, '
        "PRIMARY KEY (cell, subject_key))",
        "CREATE TABLE IF NOT EXISTS {s}.manifests ("
        'cell integer NOT NULL, sha256 text COLLATE "C" NOT NULL, subjects bigint NOT NULL, '
        "PRIMARY KEY (cell, sha256))",
    )

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self._events: Counter[Cell] = Counter()
        self._purposes: dict[Cell, str] = {}
        self._members: dict[Cell, set[str]] = {}
        self._manifests: dict[tuple[Cell, str], int] = {}

    def outdated(self, conn: Connection[Any]) -> str | None:
        # Before 2026-12-01 one table, counts, added up the subjects of every event; the
        # cells beside it hold only what came after, so they need the whole log again.
        row = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'counts'",
            (self.schema,),
        ).fetchone()
        if row is not None:
            return (
                "its counts add up the people of every event instead of counting each "
                "person once, and its new cells hold only the events since the upgrade"
            )
        # Before per-subject keys, a cell's people were kept by pseudonym: an erasure
        # could not remove them, and a person seen since would be counted again.
        row = conn.execute(
            self.sql(
                "SELECT 1 FROM {s}.members WHERE subject_key NOT LIKE 't:%%' "
                "AND subject_key NOT LIKE 'erased:%%' LIMIT 1"
            )
        ).fetchone()
        if row is not None:
            return "its cells keep people by pseudonym, which an erasure cannot remove"
        return None

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
        )
        self._count(cell, event.purpose["text"], counted(event.subject_keys, position, self.vault))

    @apply.register
    def _(self, event: DataShare.Recorded, position: int, curs: Cursor[Any]) -> None:
        gateway = (event.legal_gateway or {}).get("code", "")
        cell = (month_of(event.occurred_at), "share", event.sender, gateway, event.purpose["code"])
        self._count(cell, event.purpose["text"], counted(event.subject_keys, position, self.vault))
        if event.manifest_sha256 is not None:
            self._manifests[cell, event.manifest_sha256] = event.subject_count

    @apply.register
    def _(self, event: Erasure.Recorded, position: int, curs: Cursor[Any]) -> None:
        """An erased person is no longer among any cell's people (the counts, once
        published, stay as they are)."""
        self.flush(curs)
        tags = [TAGGED + tag for tags in event.tombstones or () for tag in tags or ()]
        if tags:
            curs.execute(self.sql("DELETE FROM {s}.members WHERE subject_key = ANY(%s)"), (tags,))

    def _count(self, cell: Cell, purpose: str, subjects: list[str]) -> None:
        self._events[cell] += 1
        self._purposes[cell] = purpose
        members = self._members.get(cell)
        if members is None:
            members = self._members[cell] = set()
        members.update(subjects)

    def flush(self, curs: Cursor[Any]) -> None:
        if self._events:
            ids = self._write_cells(curs)
            self._write_people(curs, ids)
        self.discard()

    def _write_cells(self, curs: Cursor[Any]) -> dict[Cell, int]:
        """Add the batch's events to its cells; their ids."""
        cells = list(self._events)
        columns = [list(column) for column in zip(*cells, strict=True)]
        curs.execute(
            self.sql(
                "INSERT INTO {s}.cells "
                "(month, kind, organisation, gateway, purpose_code, purpose, events, people) "
                "SELECT *, 0 FROM unnest(%b::date[], %b::text[], %b::text[], %b::text[], "
                "%b::text[], %b::text[], %b::bigint[]) "
                "ON CONFLICT (month, kind, organisation, gateway, purpose_code) DO UPDATE "
                "SET events = cells.events + EXCLUDED.events, purpose = EXCLUDED.purpose "
                "RETURNING id, month, kind, organisation, gateway, purpose_code"
            ),
            [
                *columns,
                [self._purposes[cell] for cell in cells],
                [self._events[cell] for cell in cells],
            ],
        )
        return {tuple(row[1:]): row[0] for row in curs.fetchall()}

    def _write_people(self, curs: Cursor[Any], ids: dict[Cell, int]) -> None:
        """Record the batch's people and manifests in their cells, counting the new."""
        cells: list[int] = []
        subjects: list[str] = []
        for cell, members in self._members.items():
            cells.extend([ids[cell]] * len(members))
            subjects.extend(members)
        manifests = list(self._manifests.items())
        curs.execute(
            self.sql(ADD_PEOPLE),
            [
                cells,
                subjects,
                [ids[cell] for (cell, _), _ in manifests],
                [sha256 for (_, sha256), _ in manifests],
                [count for _, count in manifests],
            ],
        )

    def discard(self) -> None:
        self._events.clear()
        self._manifests.clear()
        self._purposes.clear()
        self._members.clear()
        super().discard()
