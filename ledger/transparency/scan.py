"""Whole-log scans for the audit and the export, through server-side cursors.

Each reader needs an open transaction; several can share one REPEATABLE READ transaction
and so read one snapshot while the sealer and the ingest workers keep writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import UUID

from psycopg import Connection

from ledger.merkle import Node
from ledger.transparency.leaves import EventRow, SealedLeaf
from ledger.transparency.store import open_rows, query
from ledger.vault import Vault


def stream_events(conn: Connection, batch: int = 5000) -> Iterator[EventRow]:
    """Every event in ledger order, through a server-side cursor."""
    with conn.cursor(name="audit_events") as cur:
        cur.itersize = batch
        cur.execute(
            query(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {events} ORDER BY notification_id"
            )
        )
        for r in cur:
            yield EventRow(r[0], r[1], r[2], r[3], None if r[4] is None else bytes(r[4]))


def opened(
    conn: Connection, vault: Vault, rows: Iterator[EventRow], batch: int = 500
) -> Iterator[EventRow]:
    """The rows with their personal values opened (``store.open_rows``), a batch at a
    time: the keys of a batch are read between two fetches of the rows' cursor."""
    pending: list[EventRow] = []
    for row in rows:
        pending.append(row)
        if len(pending) == batch:
            yield from open_rows(conn, vault, pending)
            pending = []
    if pending:
        yield from open_rows(conn, vault, pending)


def stream_sealed(conn: Connection, batch: int = 5000) -> Iterator[SealedLeaf]:
    """Every sealed leaf with its stored hash, by leaf index."""
    with conn.cursor(name="audit_leaves") as cur:
        cur.itersize = batch
        cur.execute(
            query(
                "SELECT l.leaf_index, l.position, l.originator_id, l.originator_version, n.hash, "
                "l.leaf_format FROM {leaves} l LEFT JOIN {nodes} n "
                "ON n.level = 0 AND n.node_index = l.leaf_index ORDER BY l.leaf_index"
            )
        )
        for r in cur:
            yield SealedLeaf(r[0], r[1], r[2], r[3], b"" if r[4] is None else bytes(r[4]), r[5])


def stream_nodes(conn: Connection, batch: int = 5000) -> Iterator[Node]:
    """Every stored node above the leaves, in the order an appender completes them."""
    with conn.cursor(name="audit_nodes") as cur:
        cur.itersize = batch
        cur.execute(
            query(
                "SELECT level, node_index, hash FROM {nodes} WHERE level > 0 "
                "ORDER BY (node_index + 1) << level, level"
            )
        )
        for r in cur:
            yield Node(r[0], r[1], bytes(r[2]))


def counts(conn: Connection) -> tuple[int, int]:
    """(events in the ledger, sealed leaves): for progress and truncation reports."""
    row = conn.execute(
        query("SELECT (SELECT count(*) FROM {events}), (SELECT count(*) FROM {leaves})")
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# A record's stored events before a version: (version, topic, state), oldest first.
Earlier = Callable[[UUID, int], list[tuple[int, str, bytes]]]


def earlier_events(conn: Connection, vault: Vault | None = None) -> Earlier:
    """A reader of one record's stored events before a version, oldest first (what the
    provenance check re-derives a change from), their personal values opened."""

    def earlier(originator_id: UUID, version: int) -> list[tuple[int, str, bytes]]:
        rows = conn.execute(
            query(
                "SELECT originator_version, topic, state FROM {events} "
                "WHERE originator_id = %s AND originator_version < %s "
                "ORDER BY originator_version"
            ),
            (originator_id, version),
        ).fetchall()
        if vault is None:
            return [(r[0], r[1], bytes(r[2])) for r in rows]
        found = open_rows(
            conn, vault, [EventRow(0, originator_id, r[0], r[1], bytes(r[2])) for r in rows]
        )
        return [
            (r.originator_version, r.topic or "", r.opened.state if r.opened else r.state or b"")
            for r in found
        ]

    return earlier
