"""Reading the views (for the API): timeline, consents, agreements and view positions.

Async, on a connection pool, one indexed query per call; tables are named through each
view's schema, so a rebuilt view is read from the statement after its swap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import errors
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import AsyncConnectionPool

from projections.view import TRACKING

POLL_SECONDS = 0.01


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a citizen's data, as stored in the view."""

    position: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    organisation: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class TimelineFilter:
    """Which entries to show: by organisation, kinds and a date range (inclusive)."""

    organisation: str | None = None
    kinds: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None


# One ordered index scan per key (a citizen's pseudonym, and the key their erased
# entries are kept under), merged: ``subject_key = ANY(keys)`` over two keys would read
# every entry of both and sort them, for a page of twenty.
_TIMELINE = (
    "SELECT position, kind, occurred_at, recorded_at, organisation, detail "
    "FROM (SELECT DISTINCT unnest(%(keys)s::text[]) AS subject_key) AS k "
    "CROSS JOIN LATERAL ("
    "  SELECT position, kind, occurred_at, recorded_at, organisation, detail "
    "  FROM timeline.entries e WHERE e.subject_key = k.subject_key "
    "  AND (%(org)s::text IS NULL OR organisation = %(org)s "
    "       OR detail->>'recipient' = %(org)s) "
    "  AND (cardinality(%(kinds)s::text[]) = 0 OR kind = ANY(%(kinds)s)) "
    "  AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s) "
    "  AND (%(until)s::timestamptz IS NULL OR occurred_at <= %(until)s) "
    "  AND (%(when)s::timestamptz IS NULL OR (occurred_at, position) < (%(when)s, %(pos)s)) "
    "  ORDER BY occurred_at DESC, position DESC LIMIT %(limit)s"
    ") AS e "
    "ORDER BY occurred_at DESC, position DESC LIMIT %(limit)s"
)


class ViewReader:
    """Queries over every view, on one async connection pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def rows(self, query: str | Composed, params: Any = None) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            await curs.execute(query, params)
            return list(await curs.fetchall())

    async def positions(self, names: Sequence[str]) -> dict[str, int]:
        """The ledger position each view has reached (0 if it does not exist yet)."""
        found = {}
        for name in names:
            try:
                query = SQL("SELECT notification_id FROM {}.tracking WHERE application_name = %s")
                rows = await self.rows(query.format(Identifier(name)), (TRACKING,))
            except errors.UndefinedTable:
                rows = []
            found[name] = int(rows[0]["notification_id"]) if rows else 0
        return found

    async def reached(self, position: int, names: Sequence[str], timeout: float) -> bool:
        """Wait until every named view has applied ``position``; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            if min((await self.positions(names)).values(), default=position) >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS)

    async def timeline(
        self,
        subject_keys: Sequence[str],
        *,
        limit: int = 50,
        after: tuple[datetime, int] | None = None,
        where: TimelineFilter | None = None,
    ) -> list[TimelineEntry]:
        """Newest first; ``after`` is (occurred_at, position) of the previous page's last."""
        where = where or TimelineFilter()
        when, position = after if after else (None, None)
        params = {
            "keys": list(subject_keys),
            "org": where.organisation,
            "kinds": list(where.kinds),
            "since": where.since,
            "until": where.until,
            "when": when,
            "pos": position,
            "limit": limit,
        }
        return [TimelineEntry(**row) for row in await self.rows(_TIMELINE, params)]

    async def whole_timeline(
        self, subject_keys: Sequence[str], *, batch: int = 500
    ) -> AsyncIterator[list[TimelineEntry]]:
        """Every entry, newest first, in batches: one keyset page of :meth:`timeline` each,
        so a timeline of any length is read in bounded memory."""
        after = None
        while True:
            entries = await self.timeline(subject_keys, limit=batch, after=after)
            if entries:
                yield entries
            if len(entries) < batch:
                return
            after = (entries[-1].occurred_at, entries[-1].position)

    async def entry(self, subject_keys: Sequence[str], position: int) -> TimelineEntry | None:
        """The entry at ``position`` of these subjects' timeline; None if it is not theirs."""
        rows = await self.rows(
            "SELECT position, kind, occurred_at, recorded_at, organisation, detail "
            "FROM timeline.entries WHERE subject_key = ANY(%s) AND position = %s LIMIT 1",
            (list(subject_keys), position),
        )
        return TimelineEntry(**rows[0]) if rows else None

    async def organisations(self) -> dict[str, str]:
        """Every registered organisation: code to name, by name."""
        rows = await self.rows("SELECT code, name FROM timeline.organisations ORDER BY name")
        return {row["code"]: row["name"] for row in rows}

    async def organisation_names(self, codes: Sequence[str]) -> dict[str, str]:
        rows = await self.rows(
            "SELECT code, name FROM timeline.organisations WHERE code = ANY(%s)", (list(codes),)
        )
        return {row["code"]: row["name"] for row in rows}

    async def consents(self, subject_keys: Sequence[str]) -> list[dict[str, Any]]:
        """Consents and objections of these subjects, each with its history, oldest first."""
        return await self.rows(
            "SELECT 'consent' AS kind, c.originator_id, c.controller, c.purpose, c.state, "
            "c.changed_at, c.expires_at, c.terms, "
            "(SELECT json_agg(json_build_object('state', h.state, 'at', h.at, "
            "'position', h.position) ORDER BY h.position) "
            " FROM consent.history h WHERE h.originator_id = c.originator_id) AS history "
            "FROM consent.consents c WHERE c.subject_key = ANY(%(keys)s) "
            "UNION ALL "
            "SELECT 'objection', o.originator_id, o.controller, o.purpose, "
            "CASE WHEN o.in_force THEN 'in-force' ELSE 'lifted' END, o.changed_at, NULL, "
            "'{}'::jsonb, "
            "(SELECT json_agg(json_build_object('state', h.state, 'at', h.at, "
            "'position', h.position) ORDER BY h.position) "
            " FROM consent.history h WHERE h.originator_id = o.originator_id) "
            "FROM consent.objections o WHERE o.subject_key = ANY(%(keys)s) "
            "ORDER BY changed_at",
            {"keys": list(subject_keys)},
        )

    async def consent_change(
        self, subject_keys: Sequence[str], position: int
    ) -> dict[str, Any] | None:
        """The consent of these subjects that changed at ``position``: its id, controller
        and the positions of its changes up to that one, oldest first (None if no consent
        of theirs changed there)."""
        rows = await self.rows(
            "SELECT c.originator_id, c.controller, "
            "(SELECT array_agg(h.position ORDER BY h.position) FROM consent.history h "
            " WHERE h.originator_id = c.originator_id AND h.position <= %(position)s) "
            "AS positions "
            "FROM consent.consents c JOIN consent.history p "
            "ON p.originator_id = c.originator_id AND p.position = %(position)s "
            "WHERE c.subject_key = ANY(%(keys)s)",
            {"keys": list(subject_keys), "position": position},
        )
        return rows[0] if rows else None

    async def purposes_used(
        self, subject_keys: Sequence[str], limit: int = 100
    ) -> list[dict[str, Any]]:
        """Each organisation that accessed or shared these subjects' data and the purposes
        it gave (``organisation``, ``purpose``), by organisation and purpose: what a
        citizen may object to. Bounded, for a long history."""
        return await self.rows(
            "SELECT DISTINCT ON (organisation, detail->'purpose'->>'code') "
            "organisation, detail->'purpose' AS purpose FROM timeline.entries "
            "WHERE subject_key = ANY(%s) AND kind IN ('data-accessed', 'data-shared') "
            "ORDER BY organisation, detail->'purpose'->>'code', position DESC LIMIT %s",
            (list(subject_keys), limit),
        )

    async def agreements(self, party: str | None = None) -> list[dict[str, Any]]:
        """The register, newest first; only those ``party`` is party to, if given."""
        return await self.rows(
            "SELECT reference, terms, registered_at, changed_at, ended_at, "
            "(SELECT json_agg(json_build_object('change', v.change, 'at', v.at, "
            "'reason', v.reason) ORDER BY v.position) FROM agreements.versions v "
            " WHERE v.reference = a.reference) AS history "
            "FROM agreements.agreements a "
            "WHERE (%(party)s::text IS NULL OR parties @> ARRAY[%(party)s::text]) "
            "ORDER BY registered_at DESC",
            {"party": party},
        )
