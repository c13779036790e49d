"""The audit core, on rows in memory: it passes an intact log and names the first
divergence of each kind of tampering."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import nacl.signing
import pytest

from ledger.merkle import MerkleFrontier, Node
from ledger.transparency.audit import AuditFailed, audit
from ledger.transparency.checkpoint import LogSigner, SignedTreeHead
from ledger.transparency.leaves import EventRow, SealedLeaf

SIGNER = LogSigner("ledger.example/log", nacl.signing.SigningKey(bytes(32)))
# Positions with a gap (a rolled-back insert), as bigserial leaves them; each row with
# its disclosable form, as the database audit reads them.
ROWS = [
    EventRow(p, UUID(int=p), 1, "t", b"state %d" % p, b'{"n":%d}' % p)
    for p in (1, 2, 3, 5, 6, 7, 8, 9, 10, 11)
]


def seal(
    rows: list[EventRow], head_sizes: tuple[int, ...]
) -> tuple[list[SealedLeaf], list[Node], list[SignedTreeHead]]:
    frontier, nodes, heads = MerkleFrontier(), [], []
    leaves = []
    for i, row in enumerate(rows):
        done = frontier.append(row.leaf_hash())
        nodes += done[1:]
        leaves.append(SealedLeaf(i, row.position, row.originator_id, 1, row.leaf_hash(), 2))
        if frontier.size in head_sizes:
            heads.append(SIGNER.sign(frontier.size, frontier.root(), frontier.size))
    return leaves, nodes, heads


LEAVES, NODES, HEADS = seal(ROWS[:8], (4, 8))


def divergence(rows: list[EventRow], leaves=LEAVES, nodes=NODES, heads=HEADS) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(AuditFailed) as failed:
        audit(rows, leaves, heads, SIGNER.key, nodes=nodes)
    return str(failed.value)


def test_an_intact_log_passes_and_counts_what_is_not_sealed_yet() -> None:
    report = audit(ROWS, LEAVES, HEADS, SIGNER.key, nodes=NODES)

    assert (report.leaves, report.tree_heads, report.unsealed) == (8, 2, 2)
    assert report.root_hash == HEADS[-1].head.root_hash


def test_progress_is_reported_per_leaf() -> None:
    seen: list[int] = []
    audit(ROWS, LEAVES, HEADS, SIGNER.key, progress=seen.append)
    assert seen == list(range(1, 9))


def test_an_altered_row_is_named_with_both_hashes() -> None:
    rows = list(ROWS)
    rows[5] = dataclasses.replace(rows[5], content=b'{"n":"altered"}')

    said = divergence(rows)

    assert said.startswith("leaf 5, ledger position 7: the stored bytes of event")
    assert "expected: leaf hash" in said and "found:    leaf hash" in said


def test_a_deleted_row_is_named() -> None:
    said = divergence(ROWS[:2] + ROWS[3:])
    assert said.startswith("leaf 2, ledger position 3: the event sealed at position 3 is missing")


def test_an_inserted_row_is_named() -> None:
    said = divergence([*ROWS[:3], EventRow(4, UUID(int=99), 1, "t", b"new", b"{}"), *ROWS[3:]])
    assert "leaf 3, ledger position 4: an event at position 4 that was never sealed" in said


def test_positions_that_go_backwards_are_named() -> None:
    rows = [ROWS[1], ROWS[0], *ROWS[2:]]  # an export whose leaves were sealed as listed
    leaves, nodes, heads = seal(rows[:8], (4, 8))

    said = divergence(rows, leaves=leaves, nodes=nodes, heads=heads)

    assert said.startswith("leaf 1, ledger position 1: ledger positions go backwards")


def test_a_truncated_log_and_leaf_table_is_caught_by_the_signed_heads() -> None:
    said = divergence(ROWS[:6], leaves=LEAVES[:6], nodes=NODES)
    assert "a tree head of size 8 was signed but the log holds only 6 sealed events" in said


def test_an_altered_stored_node_is_named() -> None:
    nodes = list(NODES)
    nodes[2] = Node(nodes[2].level, nodes[2].index, bytes(32))

    said = divergence(ROWS, nodes=nodes)

    assert f"stored tree node (level {nodes[2].level}, index {nodes[2].index}) was altered" in said


def test_a_rewritten_leaf_record_is_caught_by_the_signed_root() -> None:
    rows = list(ROWS)
    rows[1] = dataclasses.replace(rows[1], content=b'{"n":"altered"}')
    leaves, nodes, _ = seal(rows[:8], ())  # everything rebuilt to match, but not re-signed

    said = divergence(rows, leaves=leaves, nodes=nodes)

    assert "the events no longer hash to the root signed at size 4" in said
    assert "a leaf in [0, 4) changed" in said


def test_leaves_of_the_first_format_are_recomputed_from_the_stored_state() -> None:
    legacy = [dataclasses.replace(row, content=None) for row in ROWS[:4]]
    frontier = MerkleFrontier()
    leaves = []
    for i, row in enumerate(legacy):
        frontier.append(row.leaf_hash(1))
        leaves.append(SealedLeaf(i, row.position, row.originator_id, 1, row.leaf_hash(1), 1))
    heads = [SIGNER.sign(4, frontier.root(), 4)]

    assert audit(legacy, leaves, heads, SIGNER.key).leaves == 4
    altered = [*legacy[:2], dataclasses.replace(legacy[2], state=b"altered"), legacy[3]]
    with pytest.raises(AuditFailed, match="leaf 2, ledger position 3: the stored bytes"):
        audit(altered, leaves, heads, SIGNER.key)
    # An export withholds their content (they framed pseudonyms): their hashes stand.
    withheld = [dataclasses.replace(row, state=None) for row in legacy]
    assert audit(withheld, leaves, heads, SIGNER.key).withheld == 4


def test_a_leaf_of_the_second_format_without_its_disclosable_form_is_named() -> None:
    rows = [*ROWS[:3], dataclasses.replace(ROWS[3], content=None), *ROWS[4:]]
    said = divergence(rows)
    assert said.startswith("leaf 3, ledger position 5: the disclosable form of event")
