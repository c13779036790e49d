"""Leaves: one ledger row framed without ambiguity. Pure.

A leaf input carries the row's ledger position, its aggregate id and version and its
topic, so moving a row (swapping two, deleting one, renumbering) changes the leaf at that
index even if no byte of the row did; fixed-width integers and length-prefixed byte
strings make two different rows frame to two different inputs.

Two formats:

- ``ledger-leaf/v2`` (every leaf sealed now) frames two SHA-256 digests: of the event's
  **disclosable form** (``ledger.transparency.disclosure``: the stored event with every
  personal field replaced by a salted commitment), which anyone it is shown to checks
  against the leaf, and of the stored state's exact bytes, which the operator's audit
  checks (so even a change that means the same, a space, is caught). A leaf input, a
  proof or an export therefore shows no personal data and nothing that links two events
  of one person; a personal value made unreadable later (its key destroyed) leaves the
  leaf unchanged.
- ``ledger-leaf/v1`` (leaves sealed before, kept as they were) framed the stored state
  itself, pseudonyms included: such leaf inputs are never published.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from uuid import UUID

from ledger.merkle import leaf_hash
from ledger.vault import Opened

LEAF_V1 = b"ledger-leaf/v1\n"
LEAF_V2 = b"ledger-leaf/v2\n"
CURRENT_FORMAT = 2
_NULL = 0xFFFFFFFF  # length marker of a NULL column; no real value is 4 GiB long


class MalformedLeaf(ValueError):
    """Bytes that are not a leaf input of a known format."""


@dataclass(frozen=True, slots=True)
class SealedLeaf:
    """A leaf as the sealer recorded it: index, ledger position, event identity, hash,
    and the format its input was framed in."""

    leaf_index: int
    position: int
    originator_id: UUID
    originator_version: int
    leaf_hash: bytes
    leaf_format: int = CURRENT_FORMAT


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the ledger's events table: ``state`` as stored (None where it is not
    shown, as in an export, which gives ``state_sha256`` instead), ``content`` its
    disclosable form (None where not known)."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str | None
    state: bytes | None
    content: bytes | None = None
    state_sha256: bytes | None = None
    # The state with its personal values opened with the keys still held (ledger.vault),
    # where a reader asked for it.
    opened: Opened | None = None

    @property
    def identity(self) -> str:
        """What names the event in its commitments' salts."""
        return f"{self.originator_id}/{self.originator_version}"

    @property
    def state_digest(self) -> bytes | None:
        if self.state is not None:
            return hashlib.sha256(self.state).digest()
        return self.state_sha256

    def leaf_input(self, leaf_format: int = CURRENT_FORMAT) -> bytes:
        """The bytes the leaf hash covers, in ``leaf_format``."""
        if leaf_format == 1:
            return self._framed(LEAF_V1, self.state)
        digest = self.state_digest
        if self.content is None or digest is None:
            raise MalformedLeaf("a v2 leaf needs the event's disclosable form and state digest")
        return self._framed(LEAF_V2, hashlib.sha256(self.content).digest(), digest)

    def leaf_hash(self, leaf_format: int = CURRENT_FORMAT) -> bytes:
        """RFC 9162 leaf hash of :meth:`leaf_input`."""
        return leaf_hash(self.leaf_input(leaf_format))

    def _framed(self, prefix: bytes, *last: bytes | None) -> bytes:
        return b"".join(
            (
                prefix,
                struct.pack(">Q", self.position),
                self.originator_id.bytes,
                struct.pack(">Q", self.originator_version),
                _field(None if self.topic is None else self.topic.encode("utf-8")),
                *map(_field, last),
            )
        )


@dataclass(frozen=True, slots=True)
class LeafInput:
    """A leaf input read back: ``state`` for a v1 leaf, the two digests for v2."""

    leaf_format: int
    position: int
    originator_id: UUID
    originator_version: int
    topic: str | None
    state: bytes | None = None
    content_sha256: bytes | None = None
    state_sha256: bytes | None = None

    @classmethod
    def parse(cls, data: bytes) -> LeafInput:
        """Parse a leaf input (for a verifier reading a proof)."""
        prefixes = {1: LEAF_V1, 2: LEAF_V2}
        leaf_format = next((f for f, p in prefixes.items() if data.startswith(p)), 0)
        if not leaf_format:
            raise MalformedLeaf("not a ledger-leaf/v1 or /v2 input")
        at = len(prefixes[leaf_format])
        try:
            (position,) = struct.unpack_from(">Q", data, at)
            originator_id = UUID(bytes=data[at + 8 : at + 24])
            (version,) = struct.unpack_from(">Q", data, at + 24)
            topic, at = _read_field(data, at + 32)
            last = []
            for _ in range(leaf_format):  # v1: the state; v2: two digests
                field, at = _read_field(data, at)
                last.append(field)
        except (struct.error, ValueError) as exc:
            raise MalformedLeaf(f"truncated leaf input: {exc}") from None
        if at != len(data):
            raise MalformedLeaf(f"{len(data) - at} bytes after the last field")
        if leaf_format == 2 and any(d is None or len(d) != 32 for d in last):
            raise MalformedLeaf("a v2 leaf ends with two 32-byte SHA-256 digests")
        return cls(
            leaf_format,
            position,
            originator_id,
            version,
            None if topic is None else topic.decode(),
            state=last[0] if leaf_format == 1 else None,
            content_sha256=last[0] if leaf_format == 2 else None,
            state_sha256=last[1] if leaf_format == 2 else None,
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
