"""PostgreSQL storage of the log: leaves, complete tree nodes and signed tree heads.

Three append-only tables beside the ledger's events. ``ledger_log_leaves`` maps each
dense leaf index to the ledger position (and event identity) it was sealed from;
``ledger_log_nodes`` holds every complete subtree node (level 0 = leaf hashes) exactly
once; ``ledger_log_tree_heads`` keeps every signed tree head forever. A trigger refuses
UPDATE and DELETE on all three, so only someone who can drop triggers can rewrite them,
and ``ledger verify --audit`` catches what they rewrite.

Every function takes a psycopg connection; the caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from psycopg import Connection
from psycopg.sql import SQL, Composed, Identifier

from ledger.database_roles import (
    DDL_LOCK_KEY,
    append_only_statements,
    may_create,
    require_tables,
)
from ledger.merkle import HASH_SIZE, Node, NodeReader
from ledger.transparency.checkpoint import SignedTreeHead, TreeHead
from ledger.transparency.leaves import EventRow, SealedLeaf
from ledger.vault import Opened, Vault, VaultError, is_sealed

# eventsourcing names the events table after the application (Ledger.name = "ledger").
EVENTS_TABLE = "ledger_events"
LEAVES_TABLE = "ledger_log_leaves"
NODES_TABLE = "ledger_log_nodes"
HEADS_TABLE = "ledger_log_tree_heads"
DISCLOSURES_TABLE = "ledger_log_disclosures"
# The subject access response bundles sent (sealed: they hold the person's data), by the
# SHA-256 their case's ``responded`` event records; the requester downloads them.
BUNDLES_TABLE = "ledger_sar_bundles"
# The ledger's idempotency index: (source, id) -> the event a submission became.
SUBMISSIONS_TABLE = "ledger_submissions"
# Per-subject data keys of the events' personal values (ledger.vault), made by the writer.
DATA_KEYS_TABLE = "ledger_data_keys"

CREATE_STATEMENTS: tuple[str | Composed, ...] = (
    f"CREATE TABLE IF NOT EXISTS {LEAVES_TABLE} (leaf_index bigint PRIMARY KEY, "
    "position bigint NOT NULL UNIQUE, originator_id uuid NOT NULL, "
    "originator_version bigint NOT NULL)",
    # Leaves sealed before this column existed were framed as ledger-leaf/v1.
    f"ALTER TABLE {LEAVES_TABLE} ADD COLUMN IF NOT EXISTS leaf_format smallint NOT NULL DEFAULT 1",
    f"CREATE TABLE IF NOT EXISTS {NODES_TABLE} (level smallint NOT NULL, "
    "node_index bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, node_index))",
    f"CREATE TABLE IF NOT EXISTS {HEADS_TABLE} (tree_size bigint PRIMARY KEY, "
    "root_hash bytea NOT NULL, timestamp_ms bigint NOT NULL, origin text NOT NULL, "
    "signature bytea NOT NULL)",
    # Who was shown an event's content for a reason of their own (an auditor): kept.
    f"CREATE TABLE IF NOT EXISTS {DISCLOSURES_TABLE} (disclosure_id bigserial PRIMARY KEY, "
    "shown_at timestamptz NOT NULL DEFAULT now(), position bigint NOT NULL, "
    "principal text NOT NULL, role text NOT NULL, reason text NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {BUNDLES_TABLE} (sha256 text PRIMARY KEY, "
    "organisation text NOT NULL, reference text NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now(), sealed bytea NOT NULL)",
    *append_only_statements(
        [LEAVES_TABLE, NODES_TABLE, HEADS_TABLE, DISCLOSURES_TABLE, BUNDLES_TABLE]
    ),
)
_NAMES = {
    "events": Identifier(EVENTS_TABLE),
    "leaves": Identifier(LEAVES_TABLE),
    "nodes": Identifier(NODES_TABLE),
    "heads": Identifier(HEADS_TABLE),
    "submissions": Identifier(SUBMISSIONS_TABLE),
    "data_keys": Identifier(DATA_KEYS_TABLE),
    "head_columns": SQL("tree_size, root_hash, timestamp_ms, origin, signature"),
}


def query(text: str) -> Composed:
    """A query naming the log's tables as {events}, {leaves}, {nodes} and {heads}."""
    return SQL(text).format(**_NAMES)


T = TypeVar("T")


def create_tables(conn: Connection) -> None:
    """Create the log's tables and triggers (idempotent); under a process's own role,
    which may create nothing, check that ``ledger init`` made them."""
    if not may_create(conn):
        require_tables(
            conn, [LEAVES_TABLE, NODES_TABLE, HEADS_TABLE, DISCLOSURES_TABLE, BUNDLES_TABLE]
        )
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))  # as the recorder
        for statement in CREATE_STATEMENTS:
            conn.execute(statement)


def tip(conn: Connection) -> tuple[int, int]:
    """(tree size, ledger position of the last leaf) as sealed so far; (0, 0) if empty."""
    row = conn.execute(
        query("SELECT leaf_index, position FROM {leaves} ORDER BY leaf_index DESC LIMIT 1")
    ).fetchone()
    return (0, 0) if row is None else (row[0] + 1, row[1])


def has_events_table(conn: Connection) -> bool:
    """Whether the ledger has created its events table yet (a fresh database has none)."""
    row = conn.execute("SELECT to_regclass(%s)", (EVENTS_TABLE,)).fetchone()
    return row is not None and row[0] is not None


def events_after(conn: Connection, position: int, limit: int) -> list[EventRow]:
    """Committed events after ``position``, in ledger order."""
    rows = conn.execute(
        query(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {events} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ),
        (position, limit),
    ).fetchall()
    return [EventRow(r[0], r[1], r[2], r[3], None if r[4] is None else bytes(r[4])) for r in rows]


def append(
    conn: Connection, leaves: Sequence[SealedLeaf], nodes: Sequence[Node], head: SignedTreeHead
) -> None:
    """Write a sealed batch: its leaves, the nodes it completed and the new signed head."""
    with conn.cursor() as cur:
        with cur.copy(
            query(
                "COPY {leaves} (leaf_index, position, originator_id, originator_version, "
                "leaf_format) FROM STDIN"
            )
        ) as copy:
            for leaf in leaves:
                copy.write_row(
                    (
                        leaf.leaf_index,
                        leaf.position,
                        leaf.originator_id,
                        leaf.originator_version,
                        leaf.leaf_format,
                    )
                )
        copy_nodes(conn, nodes)
        insert_head(conn, head)


def copy_nodes(conn: Connection, nodes: Iterable[Node]) -> None:
    with (
        conn.cursor() as cur,
        cur.copy(query("COPY {nodes} (level, node_index, hash) FROM STDIN")) as copy,
    ):
        for node in nodes:
            copy.write_row((node.level, node.index, node.hash))


def insert_head(conn: Connection, signed: SignedTreeHead) -> None:
    head = signed.head
    conn.execute(
        query(
            "INSERT INTO {heads} (tree_size, root_hash, timestamp_ms, origin, signature) "
            "VALUES (%s, %s, %s, %s, %s)"
        ),
        (head.tree_size, head.root_hash, head.timestamp_ms, head.origin, signed.signature),
    )


def _head(row: Sequence[Any]) -> SignedTreeHead:
    size, root, stamp, origin, signature = row
    return SignedTreeHead(TreeHead(origin, size, bytes(root), stamp), bytes(signature))


def latest_head(conn: Connection) -> SignedTreeHead | None:
    row = conn.execute(
        query("SELECT {head_columns} FROM {heads} ORDER BY tree_size DESC LIMIT 1")
    ).fetchone()
    return None if row is None else _head(row)


def head_at(conn: Connection, tree_size: int) -> SignedTreeHead | None:
    row = conn.execute(
        query("SELECT {head_columns} FROM {heads} WHERE tree_size = %s"), (tree_size,)
    ).fetchone()
    return None if row is None else _head(row)


def heads_after(conn: Connection, after: int, limit: int) -> list[SignedTreeHead]:
    """Signed tree heads of sizes above ``after``, smallest first, at most ``limit``."""
    rows = conn.execute(
        query(
            "SELECT {head_columns} FROM {heads} WHERE tree_size > %s ORDER BY tree_size LIMIT %s"
        ),
        (after, limit),
    ).fetchall()
    return [_head(row) for row in rows]


def heads(conn: Connection) -> list[SignedTreeHead]:
    """Every signed tree head, smallest first."""
    rows = conn.execute(query("SELECT {head_columns} FROM {heads} ORDER BY tree_size")).fetchall()
    return [_head(row) for row in rows]


# One index lookup per wanted node (LIMIT 1 keeps the planner from hashing the whole
# nodes table instead, as it prefers for a few thousand pairs), so a read costs what
# it asks for, however long the log.
_WANTED = (
    " FROM unnest(%s::smallint[], %s::bigint[]) WITH ORDINALITY AS w(level, node_index, ord) "
    "CROSS JOIN LATERAL (SELECT n.hash FROM {nodes} n WHERE n.level = w.level "
    "AND n.node_index = w.node_index LIMIT 1) AS n"
)
_PACKED_NODES = query(
    "SELECT count(*), coalesce(bool_and(length(n.hash) = %s), true), "
    "string_agg(n.hash, ''::bytea ORDER BY w.ord)" + _WANTED
)
_NODE_ROWS = query("SELECT w.level, w.node_index, n.hash" + _WANTED)


def read_nodes(conn: Connection, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored nodes among ``wanted`` (level, index) pairs, in one round trip.

    When every one is there at the hash size (as in a sound log) they come back as one
    string of hashes in the order asked; otherwise row by row, to tell which."""
    if not wanted:
        return {}
    levels, indices = zip(*wanted, strict=True)
    params = (list(levels), list(indices))
    row = conn.execute(_PACKED_NODES, (HASH_SIZE, *params)).fetchone()
    if row is not None and row[0] == len(wanted) and row[1]:
        packed = bytes(row[2])
        return {pair: packed[n * HASH_SIZE : (n + 1) * HASH_SIZE] for n, pair in enumerate(wanted)}
    rows = conn.execute(_NODE_ROWS, params).fetchall()
    return {(r[0], r[1]): bytes(r[2]) for r in rows}


def leaves_at(conn: Connection, positions: Sequence[int]) -> dict[int, SealedLeaf]:
    """Sealed leaves by ledger position (positions not yet sealed are absent)."""
    rows = conn.execute(
        query(
            "SELECT l.leaf_index, l.position, l.originator_id, l.originator_version, n.hash, "
            "l.leaf_format FROM {leaves} l CROSS JOIN LATERAL (SELECT n.hash FROM {nodes} n "
            "WHERE n.level = 0 AND n.node_index = l.leaf_index LIMIT 1) AS n "
            "WHERE l.position = ANY(%s)"
        ),
        (list(positions),),
    ).fetchall()
    return {r[1]: SealedLeaf(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows}


def record_disclosure(
    conn: Connection, position: int, principal: str, role: str, reason: str
) -> None:
    """Keep who was shown the event at ``position``, and why."""
    conn.execute(
        f"INSERT INTO {DISCLOSURES_TABLE} (position, principal, role, reason) "  # noqa: S608
        "VALUES (%s, %s, %s, %s)",
        (position, principal, role, reason),
    )


def position_of_submission(conn: Connection, source: str, event_id: str) -> int | None:
    """Ledger position of the event a service submitted as (source, id), if recorded."""
    if conn.execute("SELECT to_regclass(%s)", (SUBMISSIONS_TABLE,)).fetchone() in (None, (None,)):
        return None
    row = conn.execute(
        query(
            "SELECT e.notification_id FROM {submissions} s JOIN {events} e "
            "USING (originator_id, originator_version) WHERE s.source = %s AND s.event_id = %s"
        ),
        (source, event_id),
    ).fetchone()
    return None if row is None else int(row[0])


def position_of(conn: Connection, originator_id: UUID) -> int | None:
    """Ledger position of the event that created aggregate ``originator_id``."""
    row = conn.execute(
        query(
            "SELECT notification_id FROM {events} WHERE originator_id = %s "
            "ORDER BY originator_version LIMIT 1"
        ),
        (originator_id,),
    ).fetchone()
    return None if row is None else int(row[0])


def events_at(conn: Connection, positions: Sequence[int]) -> list[EventRow]:
    """The events at these ledger positions (those that exist), in ledger order: one
    query however many."""
    rows = conn.execute(
        query(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {events} WHERE notification_id = ANY(%s) ORDER BY notification_id"
        ),
        (list(positions),),
    ).fetchall()
    return [EventRow(r[0], r[1], r[2], r[3], None if r[4] is None else bytes(r[4])) for r in rows]


def event_at(conn: Connection, position: int) -> EventRow | None:
    rows = events_after(conn, position - 1, 1)
    return rows[0] if rows and rows[0].position == position else None


def open_rows(conn: Connection, vault: Vault, rows: Sequence[EventRow]) -> list[EventRow]:
    """The rows with their personal values opened with the keys still held (one query
    for every row's keys); a key or a value that does not open is the row's ``fault``."""
    sealed = [r for r in rows if r.state is not None and is_sealed(r.state)]
    if not sealed:
        return [dataclasses.replace(r, opened=Opened(r.state or b"null")) for r in rows]
    found: dict[tuple[UUID, int], dict[str, bytes | None]] = {}
    for oid, version, slot, wrapped in conn.execute(
        query(
            "SELECT k.originator_id, k.originator_version, k.slot, k.wrapped FROM {data_keys} k "
            "JOIN unnest(%s::uuid[], %s::int8[]) AS e(originator_id, originator_version) "
            "USING (originator_id, originator_version)"
        ),
        ([r.originator_id for r in sealed], [r.originator_version for r in sealed]),
    ).fetchall():
        found.setdefault((oid, version), {})[slot] = None if wrapped is None else bytes(wrapped)
    opened: list[EventRow] = []
    for row in rows:
        state = row.state or b"null"
        try:
            keys = vault.keys_of(found.get((row.originator_id, row.originator_version), {}))
            result = vault.open(row.identity, state, keys)
        except (VaultError, ValueError) as exc:
            result = Opened(state, sealed=True, fault=str(exc))
        opened.append(dataclasses.replace(row, opened=result))
    return opened


class MissingNode(LookupError):
    """A node a proof needs is not stored: the log's tables are damaged."""

    def __init__(self, level: int, index: int) -> None:
        super().__init__(
            "stored node (level {level}, index {index}) is missing; "
            "run `ledger verify --audit` to find out what changed"
        )


_PLACEHOLDER = bytes(32)


def with_nodes(conn: Connection, compute: Callable[[NodeReader], T]) -> tuple[T, int]:
    """Run ``compute`` against stored nodes, fetched in one round trip; also say how many.

    Which nodes a proof needs depends only on the sizes and indices, never on hash values,
    so a first pass with placeholder hashes lists them, one query fetches them, and a
    second pass computes with the real ones.
    """
    wanted: dict[tuple[int, int], None] = {}

    def plan(level: int, index: int) -> bytes:
        wanted[(level, index)] = None
        return _PLACEHOLDER

    compute(plan)
    found = read_nodes(conn, list(wanted))

    def read(level: int, index: int) -> bytes:
        try:
            return found[(level, index)]
        except KeyError:
            raise MissingNode(level, index) from None

    return compute(read), len(found)
