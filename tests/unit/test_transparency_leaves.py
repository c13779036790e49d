"""Leaf inputs frame every column of a stored row without ambiguity."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import merkle
from ledger.transparency.leaves import EventRow, MalformedLeaf

ROW = EventRow(7, UUID(int=1), 1, "ledger.domain.access:DataAccess.Recorded", b'{"a": 1}')

rows = st.builds(
    EventRow,
    position=st.integers(1, 2**63 - 1),
    originator_id=st.uuids(),
    originator_version=st.integers(1, 2**63 - 1),
    topic=st.none() | st.text(max_size=20),
    state=st.none() | st.binary(max_size=40),
)


def test_the_leaf_hash_is_the_rfc_leaf_hash_of_the_framed_row() -> None:
    assert ROW.leaf_hash() == merkle.leaf_hash(ROW.leaf_input())
    assert ROW.leaf_input().startswith(b"ledger-leaf/v1\n")


@pytest.mark.parametrize(
    "change",
    [
        {"position": 8},
        {"originator_id": UUID(int=2)},
        {"originator_version": 2},
        {"topic": "ledger.domain.access:DataAccess.Recorded "},
        {"topic": None},
        {"state": b'{"a": 2}'},
        {"state": b""},
        {"state": None},
    ],
)
def test_changing_any_column_changes_the_leaf(change: dict[str, object]) -> None:
    assert dataclasses.replace(ROW, **change).leaf_hash() != ROW.leaf_hash()  # type: ignore[arg-type]


@given(rows, rows)
def test_different_rows_never_frame_alike(a: EventRow, b: EventRow) -> None:
    assert (a.leaf_input() == b.leaf_input()) == (a == b)


@given(rows)
def test_a_leaf_input_parses_back_to_its_row(row: EventRow) -> None:
    assert EventRow.from_leaf_input(row.leaf_input()) == row


@pytest.mark.parametrize("data", [b"", b"ledger-leaf/v1\n\x00", ROW.leaf_input() + b"x"])
def test_bytes_that_are_not_a_leaf_input_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedLeaf):
        EventRow.from_leaf_input(data)
