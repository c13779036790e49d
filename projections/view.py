"""What a view is: a PostgreSQL schema of tables, fed by a projection, tracked in place.

Each view lives in its own schema (``timeline``, ``consent``, ...) with a one-row
``tracking`` table holding the last ledger position the view has applied. View rows and
the tracking row are written in the same transaction, so a crash neither loses nor
doubles an update. Rebuilding builds the same tables in a shadow schema
(``<name>__next``) and swaps the two by renaming (see :mod:`projections.rebuild`):
readers name tables through the schema, so they see the new view at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import orjson
from psycopg import Connection, Cursor, errors
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.json import set_json_dumps

TRACKING = "ledger"  # the name of the one tracking row: the log this view follows

# Serialises the DDL of views (and a rebuild's swap) across processes.
VIEW_DDL_LOCK = 0x1ED6E6


class Projection:
    """One view: its schema, the event topics it reads, its DDL and its handlers.

    Subclasses declare ``name``, ``topics`` and ``tables`` (DDL with ``{s}`` standing for
    the schema), and a ``singledispatchmethod`` ``apply(event, position, cursor)`` per
    event type. Handlers may write at once with the cursor, or buffer rows with
    :meth:`copy_later` for ``COPY`` at the end of the batch (:meth:`flush`), which is what
    keeps bulk writes fast.
    """

    name: ClassVar[str]
    topics: ClassVar[Sequence[str]]
    tables: ClassVar[Sequence[str]]
    # PostgreSQL types of the columns of tables written by ``copy_later``, in order: those
    # rows go in COPY's binary format (no text to parse; jsonb columns take dicts).
    copy_types: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, schema: str | None = None) -> None:
        self.schema = schema or self.name
        # What tags a subject (ledger.vault), for the views that keep people only as
        # tags; the runner sets it from its ledger.
        self.vault: Any = None
        self._copies: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}

    def sql(self, text: str) -> Composed:
        """``text`` with ``{s}`` replaced by this view's schema, safely quoted."""
        return SQL(text).format(s=Identifier(self.schema))

    def apply(self, event: Any, position: int, curs: Cursor[Any]) -> None:
        """Apply one event; events of types without a handler change nothing."""

    def copy_later(self, table: str, columns: tuple[str, ...], row: tuple[Any, ...]) -> None:
        self._copies.setdefault((table, columns), []).append(row)

    def flush(self, curs: Cursor[Any]) -> None:
        """Write buffered rows (``COPY``), before the batch's tracking row."""
        for (table, columns), rows in self._copies.items():
            types = self.copy_types.get(table)
            statement = SQL("COPY {}.{} ({}) FROM STDIN").format(
                Identifier(self.schema), Identifier(table), SQL(", ").join(map(Identifier, columns))
            )
            if types:
                assert len(types) == len(columns), (table, columns, types)
                statement += SQL(" (FORMAT BINARY)")
                set_json_dumps(orjson.dumps, context=curs)
            with curs.copy(statement) as copy:
                if types:
                    copy.set_types(list(types))
                for row in rows:
                    copy.write_row(row)
        self._copies.clear()

    def discard(self) -> None:
        """Forget buffered rows (the batch's transaction rolled back)."""
        self._copies.clear()

    def outdated(self, conn: Connection[Any]) -> str | None:
        """Why the view in this schema should be rebuilt (its tables have an older
        layout that still works), or None. Views whose layout never changed say None."""
        return None

    def create(self, conn: Connection[Any]) -> None:
        """Create the schema, tables and tracking row if missing (idempotent)."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (VIEW_DDL_LOCK,))
            conn.execute(self.sql("CREATE SCHEMA IF NOT EXISTS {s}"))
            for statement in (*self.tables, *TRACKING_DDL):
                conn.execute(self.sql(statement))


TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}.tracking ("
    "application_name text PRIMARY KEY, notification_id bigint NOT NULL)",
    "INSERT INTO {s}.tracking VALUES ('ledger', 0) ON CONFLICT DO NOTHING",  # TRACKING
)


def tracked_position(curs: Cursor[Any], schema: str, *, lock: bool = False) -> int:
    """The last ledger position the view in ``schema`` has applied (0 if none)."""
    return tracked_positions(curs, [schema], lock=lock)[0]


def tracked_positions(
    curs: Cursor[Any], schemas: Sequence[str], *, lock: bool = False
) -> list[int]:
    """The last ledger position of each view in ``schemas`` (0 if none), in one query;
    ``lock`` holds their tracking rows until the transaction ends (one writer per view
    at a time, however many runners were started)."""
    one = SQL("(SELECT notification_id FROM {}.tracking WHERE application_name = %s{})")
    locking = SQL(" FOR UPDATE") if lock else SQL("")
    statement = SQL("SELECT ") + SQL(", ").join(
        one.format(Identifier(schema), locking) for schema in schemas
    )
    row = curs.execute(statement, [TRACKING] * len(schemas)).fetchone()
    return [int(value or 0) for value in row or [None] * len(schemas)]


def lock_view(curs: Cursor[Any], name: str) -> None:
    """Hold the live view for this transaction: its batches and a rebuild's swap take
    turns, and no table lock is held while waiting (so the swap cannot deadlock)."""
    lock_views(curs, [name])


def lock_views(curs: Cursor[Any], names: Iterable[str]) -> None:
    """:func:`lock_view` for several live views, in one query and in name order (two
    runners taking the same views never wait for each other in a cycle)."""
    keys = [f"view:{name}" for name in sorted(names)]
    # unnest yields the array's elements in order, and each is locked as it is yielded.
    curs.execute(
        "SELECT pg_advisory_xact_lock(hashtext(key)) FROM unnest(%s::text[]) AS key", (keys,)
    )


def write_trackings(curs: Cursor[Any], schemas: Sequence[str], position: int) -> None:
    """Move the tracking rows of the views in ``schemas`` to ``position``, in one query."""
    if not schemas:
        return
    update = SQL("UPDATE {}.tracking SET notification_id = %s WHERE application_name = %s")
    parts = [
        SQL("{} AS (").format(Identifier(f"u{i}")) + update.format(Identifier(schema)) + SQL(")")
        for i, schema in enumerate(schemas)
    ]
    curs.execute(
        SQL("WITH ") + SQL(", ").join(parts) + SQL(" SELECT 1"), [position, TRACKING] * len(schemas)
    )


def positions(conn: Connection[Any], names: Iterable[str]) -> dict[str, int]:
    """The tracked position of each named view (missing views are at 0)."""
    found: dict[str, int] = {}
    with conn.cursor() as curs:
        for name in names:
            try:
                found[name] = tracked_position(curs, name)
            except errors.UndefinedTable:  # not created yet
                conn.rollback()
                found[name] = 0
    return found
