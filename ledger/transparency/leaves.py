"""Leaves: the exact stored bytes of one ledger row, framed without ambiguity. Pure.

A leaf input frames every column of the stored row, so altering any of them changes the
leaf hash, and it carries the row's ledger position, so moving a row (swapping two,
deleting one, renumbering) changes the leaf at that index even if no byte of the row did.
Fixed-width integers and length-prefixed byte strings make two different rows frame to
two different inputs. The ``state`` column holds pseudonyms and a sealed envelope, never
raw identifiers, so a leaf input can be published.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from uuid import UUID

from ledger.merkle import leaf_hash

LEAF_FORMAT = b"ledger-leaf/v1\n"
_NULL = 0xFFFFFFFF  # length marker of a NULL column; no real value is 4 GiB long


class MalformedLeaf(ValueError):
    """Bytes that are not a leaf input of this format."""


@dataclass(frozen=True, slots=True)
class SealedLeaf:
    """A leaf as the sealer recorded it: index, ledger position, event identity, hash."""

    leaf_index: int
    position: int
    originator_id: UUID
    originator_version: int
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the ledger's events table, as stored."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str | None
    state: bytes | None

    def leaf_input(self) -> bytes:
        """The bytes the leaf hash covers (format ``ledger-leaf/v1``)."""
        return b"".join(
            (
                LEAF_FORMAT,
                struct.pack(">Q", self.position),
                self.originator_id.bytes,
                struct.pack(">Q", self.originator_version),
                _field(None if self.topic is None else self.topic.encode("utf-8")),
                _field(self.state),
            )
        )

    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of :meth:`leaf_input`."""
        return leaf_hash(self.leaf_input())

    @classmethod
    def from_leaf_input(cls, data: bytes) -> EventRow:
        """Parse a leaf input back into its row (for a verifier reading a proof)."""
        if not data.startswith(LEAF_FORMAT):
            raise MalformedLeaf("not a ledger-leaf/v1 input")
        at = len(LEAF_FORMAT)
        try:
            (position,) = struct.unpack_from(">Q", data, at)
            originator_id = UUID(bytes=data[at + 8 : at + 24])
            (version,) = struct.unpack_from(">Q", data, at + 24)
            topic, at = _read_field(data, at + 32)
            state, at = _read_field(data, at)
        except (struct.error, ValueError) as exc:
            raise MalformedLeaf(f"truncated leaf input: {exc}") from None
        if at != len(data):
            raise MalformedLeaf(f"{len(data) - at} bytes after the last field")
        return cls(
            position, originator_id, version, None if topic is None else topic.decode(), state
        )


def _field(value: bytes | None) -> bytes:
    if value is None:
        return struct.pack(">I", _NULL)
    return struct.pack(">I", len(value)) + value


def _read_field(data: bytes, at: int) -> tuple[bytes | None, int]:
    (length,) = struct.unpack_from(">I", data, at)
    at += 4
    if length == _NULL:
        return None, at
    if at + length > len(data):
        raise ValueError("field runs past the end")
    return data[at : at + length], at + length
