"""The audit: recompute every leaf and the whole tree, check every signed tree head. Pure.

It walks the ledger's events in order beside the sealed leaves (and, from a database,
the stored nodes) and stops at the FIRST divergence, saying which leaf and ledger
position, what was expected and what was found. The verdicts that need no trust in the
operator are the signed tree heads: each must carry a valid signature by the log's key
and commit to the root recomputed from the events. The sealed-leaf records only sharpen
the message (deleted, inserted, moved or altered) when they are intact.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from ledger.merkle import EMPTY_ROOT, MerkleFrontier, Node
from ledger.transparency.checkpoint import BadTreeHead, LogKey, SignedTreeHead, b64
from ledger.transparency.leaves import EventRow, SealedLeaf

Progress = Callable[[int], None]
# Why an event is not to be trusted, or None (``ledger.transparency.provenance``).
Origin = Callable[[EventRow], "str | None"]


@dataclass(frozen=True)
class Divergence:
    """The first place where the log differs from what was sealed and signed."""

    problem: str
    expected: str
    found: str
    leaf_index: int | None = None
    position: int | None = None

    def __str__(self) -> str:
        where = []
        if self.leaf_index is not None:
            where.append(f"leaf {self.leaf_index}")
        if self.position is not None:
            where.append(f"ledger position {self.position}")
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{self.problem}\n  expected: {self.expected}\n  found:    {self.found}"


class AuditFailed(Exception):
    """The audit found a divergence."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(str(divergence))
        self.divergence = divergence


@dataclass(frozen=True)
class AuditReport:
    """What an audit that found nothing wrong covered."""

    leaves: int
    tree_heads: int
    tree_size: int
    root_hash: bytes
    unsealed: int
    # Leaves whose content an export withholds (ledger-leaf/v1 leaves framed stored
    # states, pseudonyms included): their stored hashes stand in the tree.
    withheld: int = 0
    # Events checked back to the root of trust (none when no ``origin`` was given:
    # an export holds no envelopes).
    signed: int = 0
    # Events whose data keys are destroyed (ledger.erasure): their leaves are checked like
    # any other; what vouched for them went with their keys, and an erasure recorded in
    # the log names each one.
    erased: int = 0


def _fail(
    problem: str, expected: str, found: str, i: int | None = None, p: int | None = None
) -> None:
    raise AuditFailed(Divergence(problem, expected, found, i, p))


def _event(row: EventRow) -> str:
    return f"event {row.originator_id} v{row.originator_version}"


def _check_leaf(i: int, row: EventRow, leaf: SealedLeaf) -> bytes:
    if leaf.leaf_index != i:
        _fail("the sealed leaf record is missing", f"leaf {i}", f"leaf {leaf.leaf_index}", i)
    if row.position > leaf.position:
        _fail(
            f"the event sealed at position {leaf.position} is missing (deleted or renumbered)",
            f"an event at position {leaf.position}",
            f"the next event is at position {row.position}",
            i,
            leaf.position,
        )
    if row.position < leaf.position:
        _fail(
            f"an event at position {row.position} that was never sealed appears before "
            f"position {leaf.position} (inserted or renumbered)",
            f"the next event at position {leaf.position}",
            f"an event at position {row.position}",
            i,
            row.position,
        )
    if (row.originator_id, row.originator_version) != (leaf.originator_id, leaf.originator_version):
        _fail(
            "a different event sits at this position (rows swapped, moved or replaced)",
            f"event {leaf.originator_id} v{leaf.originator_version}",
            _event(row),
            i,
            row.position,
        )
    if leaf.leaf_format == 1 and row.state is None:
        return leaf.leaf_hash  # withheld from an export (see AuditReport.withheld)
    if leaf.leaf_format != 1 and row.content is None:
        _fail(
            f"the disclosable form of {_event(row)} is missing",
            "the event as its leaf commits to it",
            "nothing",
            i,
            row.position,
        )
    recomputed = row.leaf_hash(leaf.leaf_format)
    if recomputed != leaf.leaf_hash:
        _fail(
            f"the stored bytes of {_event(row)} changed after it was sealed",
            f"leaf hash {b64(leaf.leaf_hash)} (as sealed)",
            f"leaf hash {b64(recomputed)} (recomputed from the stored row)",
            i,
            row.position,
        )
    return recomputed


def _check_origin(origin: Origin, row: EventRow, i: int | None) -> None:
    problem = origin(row)
    if problem is not None:
        _fail(
            f"{_event(row)} was not recorded from anything the root of trust vouches for "
            "(written into the database by hand?)",
            "an event recorded from an envelope signed by a registered key, which says "
            "what the event records",
            problem,
            i,
            row.position,
        )


def _check_signature(signed: SignedTreeHead, key: LogKey, what: str) -> None:
    try:
        key.verify(signed.head, signed.signature)
    except BadTreeHead as exc:
        _fail(
            f"{what} of size {signed.head.tree_size} does not verify",
            "a valid signature",
            str(exc),
        )


def _check_kept(kept: SignedTreeHead, root: bytes) -> None:
    if root != kept.head.root_hash:
        _fail(
            f"the log's tree of size {kept.head.tree_size} is not the one a checkpoint kept "
            f"elsewhere records ({kept.head.time.isoformat()}): the log forked from it",
            f"root {b64(kept.head.root_hash)} (the kept checkpoint)",
            f"root {b64(root)} (recomputed)",
        )


def _check_head(signed: SignedTreeHead, root: bytes, key: LogKey, since: int) -> None:
    head = signed.head
    _check_signature(signed, key, "the signed tree head")
    if root != head.root_hash:
        _fail(
            f"the events no longer hash to the root signed at size {head.tree_size} "
            f"({head.time.isoformat()}): a leaf in [{since}, {head.tree_size}) changed",
            f"root {b64(head.root_hash)} (signed)",
            f"root {b64(root)} (recomputed)",
        )


def audit(
    events: Iterable[EventRow],
    sealed: Iterable[SealedLeaf],
    heads: Sequence[SignedTreeHead],
    key: LogKey,
    *,
    nodes: Iterable[Node] | None = None,
    progress: Progress | None = None,
    checkpoints: Sequence[SignedTreeHead] = (),
    origin: Origin | None = None,
    finish: Callable[[], str | None] | None = None,
) -> AuditReport:
    """Check everything; raise AuditFailed at the first divergence.

    ``checkpoints``: tree heads someone else kept (a witness, an auditor): each must
    verify, and the log must still hold its tree, root for root. That is what catches a
    log truncated back to an older signed head, or forked from one: the log's own heads
    go with it, a checkpoint held elsewhere does not.

    ``origin``: checks each event, sealed or not, back to the root of trust, in ledger
    order (``ledger.transparency.provenance``); what catches a row written by hand
    before it was sealed. ``finish``, after every event: why the destroyed data keys do
    not check out (each must be named by an erasure recorded in the log)."""
    kept = sorted(checkpoints, key=lambda s: s.head.tree_size)
    for checkpoint in kept:
        _check_signature(checkpoint, key, "a kept checkpoint")
    held = iter(kept)
    next_kept = next(held, None)
    ordered = sorted(heads, key=lambda s: s.head.tree_size)
    signed_size = ordered[-1].head.tree_size if ordered else 0
    pending = iter(ordered)
    next_head = next(pending, None)
    while next_head is not None and next_head.head.tree_size == 0:
        _check_head(next_head, EMPTY_ROOT, key, 0)
        next_head = next(pending, None)
    rows, leaves = iter(events), iter(sealed)
    stored: Iterator[Node] = iter(nodes) if nodes is not None else iter(())
    frontier, previous, last_good, withheld, erased = MerkleFrontier(), 0, 0, 0, 0
    row, leaf = next(rows, None), next(leaves, None)
    while row is not None or leaf is not None:
        i = frontier.size
        if leaf is None and i >= signed_size:
            break  # the rest is committed but not sealed yet
        if row is None:
            assert leaf is not None
            _fail(
                f"the log ends after {i} events but leaf {i} was sealed (the log was truncated)",
                f"an event at position {leaf.position}",
                "no more events",
                i,
                leaf.position,
            )
            break
        if row.position <= previous:
            _fail(
                "ledger positions go backwards",
                f"a position after {previous}",
                f"position {row.position}",
                i,
                row.position,
            )
        if leaf is None:
            _fail(
                f"no sealed leaf record, yet the tree head of size {signed_size} covers it",
                f"a sealed leaf {i}",
                "none",
                i,
                row.position,
            )
        assert leaf is not None
        withheld += leaf.leaf_format == 1 and row.state is None
        erased += row.opened is not None and bool(row.opened.destroyed)
        completed = frontier.append(_check_leaf(i, row, leaf))
        if origin is not None:
            _check_origin(origin, row, i)
        if nodes is not None:
            for node in completed[1:]:  # level 0 is the leaf hash, checked just above
                _check_node(node, next(stored, None))
        while next_head is not None and next_head.head.tree_size == frontier.size:
            _check_head(next_head, frontier.root(), key, last_good)
            last_good = frontier.size
            next_head = next(pending, None)
        while next_kept is not None and next_kept.head.tree_size == frontier.size:
            _check_kept(next_kept, frontier.root())
            next_kept = next(held, None)
        previous = row.position
        if progress is not None:
            progress(frontier.size)
        row, leaf = next(rows, None), next(leaves, None)
    if next_head is not None:
        size = next_head.head.tree_size
        _fail(
            f"a tree head of size {size} was signed but the log holds only {frontier.size} "
            "sealed events (the log was truncated)",
            f"{size} events",
            f"{frontier.size} events",
            frontier.size,
        )
    while next_kept is not None and next_kept.head.tree_size == 0:
        _check_kept(next_kept, EMPTY_ROOT)
        next_kept = next(held, None)
    if next_kept is not None:
        size = next_kept.head.tree_size
        _fail(
            f"a checkpoint kept elsewhere records a tree of size {size} "
            f"({next_kept.head.time.isoformat()}), but the log now holds only "
            f"{frontier.size} sealed events: it was truncated, or rewritten, since",
            f"{size} sealed events",
            f"{frontier.size} sealed events",
            frontier.size,
        )
    unsealed = 0
    for rest in itertools.chain([] if row is None else [row], rows):
        if origin is not None:
            _check_origin(origin, rest, None)
        unsealed += 1
    problem = None if finish is None else finish()
    if problem is not None:
        _fail(
            "data keys were destroyed outside an erasure",
            "every destroyed key named by an erasure recorded in the log",
            problem,
        )
    return AuditReport(
        frontier.size,
        len(ordered),
        frontier.size,
        frontier.root(),
        unsealed,
        withheld,
        signed=0 if origin is None else frontier.size + unsealed,
        erased=erased,
    )


def _check_node(computed: Node, stored: Node | None) -> None:
    coordinates = f"node (level {computed.level}, index {computed.index})"
    if stored is None or (stored.level, stored.index) != (computed.level, computed.index):
        found = "none" if stored is None else f"node ({stored.level}, {stored.index})"
        _fail(f"stored tree {coordinates} is missing", coordinates, found)
    elif stored.hash != computed.hash:
        _fail(
            f"stored tree {coordinates} was altered (proofs served from it would fail)",
            b64(computed.hash),
            b64(stored.hash),
        )
