"""Leaf inputs frame a row without ambiguity: the second format over the SHA-256 of the
event's disclosable form (no content), the first over the stored state itself."""

from __future__ import annotations

import dataclasses
import hashlib
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import merkle
from ledger.transparency.leaves import EventRow, LeafInput, MalformedLeaf

ROW = EventRow(
    7, UUID(int=1), 1, "ledger.domain.access:DataAccess.Recorded", b'{"a": 1}', b'{"a":"commit:1"}'
)

rows = st.builds(
    EventRow,
    position=st.integers(1, 2**63 - 1),
    originator_id=st.uuids(),
    originator_version=st.integers(1, 2**63 - 1),
    topic=st.none() | st.text(max_size=20),
    state=st.binary(max_size=40),
    content=st.binary(max_size=40),
)


def test_the_leaf_hash_is_the_rfc_leaf_hash_of_the_framed_row() -> None:
    assert ROW.leaf_hash() == merkle.leaf_hash(ROW.leaf_input())
    assert ROW.leaf_input().startswith(b"ledger-leaf/v2\n")
    content, state = hashlib.sha256(ROW.content or b"").digest(), hashlib.sha256(b'{"a": 1}')
    assert ROW.leaf_input().endswith(content + b"\x00\x00\x00\x20" + state.digest())
    assert ROW.leaf_input(1).startswith(b"ledger-leaf/v1\n")


def test_a_second_format_leaf_shows_nothing_of_the_event_but_its_hash() -> None:
    assert b"commit" not in ROW.leaf_input() and b'"a"' not in ROW.leaf_input()


@pytest.mark.parametrize(
    "change",
    [
        {"position": 8},
        {"originator_id": UUID(int=2)},
        {"originator_version": 2},
        {"topic": "ledger.domain.access:DataAccess.Recorded "},
        {"topic": None},
        {"content": b'{"a":"commit:2"}'},
        {"content": b""},
        {"state": b'{"a":  1}'},  # the same meaning, other bytes
    ],
)
def test_changing_any_column_changes_the_leaf(change: dict[str, object]) -> None:
    assert dataclasses.replace(ROW, **change).leaf_hash() != ROW.leaf_hash()  # type: ignore[arg-type]


@pytest.mark.parametrize("change", [{"state": b'{"a": 2}'}, {"state": b""}, {"state": None}])
def test_changing_the_state_changes_a_first_format_leaf(change: dict[str, object]) -> None:
    assert dataclasses.replace(ROW, **change).leaf_hash(1) != ROW.leaf_hash(1)  # type: ignore[arg-type]


@given(rows, rows)
def test_different_rows_never_frame_alike(a: EventRow, b: EventRow) -> None:
    same_v2 = (a.position, a.originator_id, a.originator_version, a.topic, a.content) == (
        b.position,
        b.originator_id,
        b.originator_version,
        b.topic,
        b.content,
    ) and a.state_digest == b.state_digest
    assert (a.leaf_input() == b.leaf_input()) == same_v2
    same_v1 = dataclasses.replace(a, content=None) == dataclasses.replace(b, content=None)
    assert (a.leaf_input(1) == b.leaf_input(1)) == same_v1


@given(rows)
def test_a_leaf_input_parses_back(row: EventRow) -> None:
    second = LeafInput.parse(row.leaf_input())
    assert (second.leaf_format, second.position, second.originator_id) == (
        2,
        row.position,
        row.originator_id,
    )
    assert second.content_sha256 == hashlib.sha256(row.content or b"").digest()
    assert second.state_sha256 == row.state_digest
    first = LeafInput.parse(row.leaf_input(1))
    assert (first.leaf_format, first.state, first.topic) == (1, row.state, row.topic)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ledger-leaf/v1\n\x00",
        ROW.leaf_input() + b"x",
        ROW.leaf_input()[:-1],  # a v2 leaf whose hash is cut short
    ],
)
def test_bytes_that_are_not_a_leaf_input_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedLeaf):
        LeafInput.parse(data)
