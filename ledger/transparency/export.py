"""Exports of the log (JSON lines) and the two places an audit can read from.

An export holds, aligned by leaf index, each event's **disclosable form** (the stored
event with every personal field replaced by a salted commitment:
``ledger.transparency.disclosure``) and the SHA-256 of its stored bytes, and the leaf as
sealed, plus every signed tree head: enough for anyone with the log's public key to
rerun the whole audit offline (``ledger verify --audit --export FILE``), and nothing
personal: no identifier, no
pseudonym, nothing that links two events of one person. Leaves sealed in the first
format (``ledger-leaf/v1``, over the stored state itself) are exported without their
content: the offline audit takes their stored hashes as they are, and says how many.

Line kinds: ``log`` (first: format, origin, verifier key, counts), ``tree_head`` (the
JSON form the API serves) and ``leaf`` (``event`` and ``sealed``, either may be null).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import orjson
import psycopg

from ledger.transparency import scan, store
from ledger.transparency.audit import AuditReport, Origin, Progress, audit
from ledger.transparency.checkpoint import LogKey, SignedTreeHead, b64, unb64
from ledger.transparency.disclosure import Discloser
from ledger.transparency.leaves import EventRow, SealedLeaf
from ledger.vault import Vault

EXPORT_FORMAT = "ledger-log-export/v2"


class MalformedExport(ValueError):
    """The file is not a log export this version can read."""


@dataclass(frozen=True)
class Snapshot:
    """How much a source holds, read before streaming it (for progress and headers)."""

    events: int
    sealed: int
    heads: list[SignedTreeHead]


def _snapshot(conn: psycopg.Connection) -> Snapshot:
    events, sealed = scan.counts(conn)
    return Snapshot(events, sealed, store.heads(conn))


def _read_only(database_url: str) -> psycopg.Connection:
    # One REPEATABLE READ transaction: every stream reads the same snapshot, even while
    # the sealer and the ingest workers keep writing.
    conn = psycopg.connect(database_url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def disclosed(rows: Iterable[EventRow], discloser: Discloser) -> Iterator[EventRow]:
    """The rows with their disclosable form (from the stored state, which an operator's
    audit reads: a state that is not even JSON any more cannot match its leaf)."""
    for row in rows:
        try:
            content = discloser.disclosable(row.identity, row.state or b"null")
        except orjson.JSONDecodeError:
            content = b"\x00 the stored state is not JSON"
        yield dataclasses.replace(row, content=content)


def audit_database(
    database_url: str,
    key: LogKey,
    discloser: Discloser,
    progress: Progress | None = None,
    on_start: Any = None,
    checkpoints: Sequence[SignedTreeHead] = (),
    provenance: Callable[[scan.Earlier], Origin] | None = None,
    vault: Vault | None = None,
    finish: Callable[[], str | None] | None = None,
) -> AuditReport:
    """Audit the live database: events, sealed leaves, every stored node, every head,
    and the ``checkpoints`` someone else kept; with ``provenance``, each event back to
    the root of trust (it is given a reader of a record's earlier events)."""
    with _read_only(database_url) as conn:
        snap = _snapshot(conn)
        if on_start is not None:
            on_start(snap)
        origin = None if provenance is None else provenance(scan.earlier_events(conn, vault))
        rows = scan.stream_events(conn)
        if vault is not None:
            rows = scan.opened(conn, vault, rows)
        return audit(
            disclosed(rows, discloser),
            scan.stream_sealed(conn),
            snap.heads,
            key,
            nodes=scan.stream_nodes(conn),
            progress=progress,
            checkpoints=checkpoints,
            origin=origin,
            finish=finish,
        )


def write_export(database_url: str, out: IO[str], key: LogKey, discloser: Discloser) -> Snapshot:
    """Write the export of the database to ``out``; return what it covered."""
    with _read_only(database_url) as conn:
        snap = _snapshot(conn)
        header = {
            "kind": "log",
            "format": EXPORT_FORMAT,
            "origin": key.name,
            "verifier_key": key.verifier_key,
            "events": snap.events,
            "sealed": snap.sealed,
        }
        out.write(json.dumps(header) + "\n")
        for signed in snap.heads:
            out.write(json.dumps({"kind": "tree_head", **signed.to_json(key)}) + "\n")
        pairs = itertools.zip_longest(
            disclosed(scan.stream_events(conn), discloser), scan.stream_sealed(conn)
        )
        for i, (row, leaf) in enumerate(pairs):
            line = {
                "kind": "leaf",
                "leaf_index": i,
                "event": _row_json(row, withhold=leaf is not None and leaf.leaf_format == 1),
                "sealed": _sealed_json(leaf),
            }
            out.write(json.dumps(line) + "\n")
    return snap


def _row_json(row: EventRow | None, *, withhold: bool) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "position": row.position,
        "originator_id": str(row.originator_id),
        "originator_version": row.originator_version,
        "topic": row.topic,
        "disclosable": None if withhold or row.content is None else b64(row.content),
        "state_sha256": None if withhold or row.state_digest is None else b64(row.state_digest),
    }


def _sealed_json(leaf: SealedLeaf | None) -> dict[str, Any] | None:
    if leaf is None:
        return None
    return {
        "leaf_index": leaf.leaf_index,
        "position": leaf.position,
        "originator_id": str(leaf.originator_id),
        "originator_version": leaf.originator_version,
        "leaf_hash": b64(leaf.leaf_hash),
        "leaf_format": leaf.leaf_format,
    }


class ExportFile:
    """An export on disk, read as the same streams an audit of the database reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        header: dict[str, Any] | None = None
        heads: list[SignedTreeHead] = []
        for number, line in self._lines():
            if number == 1:
                header = line
                if line.get("kind") != "log" or line.get("format") != EXPORT_FORMAT:
                    raise MalformedExport(f"{path}: not a {EXPORT_FORMAT} export")
            elif line.get("kind") == "tree_head":
                heads.append(SignedTreeHead.from_json(line))
        if header is None:
            raise MalformedExport(f"{path}: empty file")
        self.snapshot = Snapshot(int(header["events"]), int(header["sealed"]), heads)

    def _lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open(encoding="utf-8") as lines:
            for number, text in enumerate(lines, 1):
                try:
                    yield number, json.loads(text)
                except json.JSONDecodeError as exc:
                    raise MalformedExport(f"{self.path}:{number}: {exc}") from None

    def _leaves(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return ((n, line) for n, line in self._lines() if line.get("kind") == "leaf")

    def events(self) -> Iterator[EventRow]:
        for number, line in self._leaves():
            if (event := line.get("event")) is not None:
                try:
                    content, digest = event["disclosable"], event["state_sha256"]
                    yield EventRow(
                        int(event["position"]),
                        UUID(event["originator_id"]),
                        int(event["originator_version"]),
                        event["topic"],
                        None,
                        None if content is None else unb64(content, "disclosable"),
                        None if digest is None else unb64(digest, "state_sha256"),
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise MalformedExport(f"{self.path}:{number}: bad event: {exc}") from None

    def sealed(self) -> Iterator[SealedLeaf]:
        for number, line in self._leaves():
            if (leaf := line.get("sealed")) is not None:
                try:
                    yield SealedLeaf(
                        int(leaf["leaf_index"]),
                        int(leaf["position"]),
                        UUID(leaf["originator_id"]),
                        int(leaf["originator_version"]),
                        unb64(leaf["leaf_hash"], "leaf_hash"),
                        int(leaf["leaf_format"]),
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise MalformedExport(f"{self.path}:{number}: bad sealed leaf: {exc}") from None

    def audit(
        self,
        key: LogKey,
        progress: Progress | None = None,
        checkpoints: Sequence[SignedTreeHead] = (),
    ) -> AuditReport:
        """Audit the export with only the log's public key (and checkpoints kept)."""
        return audit(
            self.events(),
            self.sealed(),
            self.snapshot.heads,
            key,
            progress=progress,
            checkpoints=checkpoints,
        )
