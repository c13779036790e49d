"""Reading the log for clients: signed tree heads and proofs from O(log n) stored nodes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import Connection
from psycopg_pool import ConnectionPool

from ledger import merkle
from ledger.domain.access import DataAccess
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.transparency import store
from ledger.transparency.bundles import consistency_bundle, inclusion_bundle
from ledger.transparency.checkpoint import LogKey, SignedTreeHead
from ledger.transparency.disclosure import Discloser, Opening
from ledger.transparency.leaves import EventRow, SealedLeaf
from ledger.transparency.sealer import discloser_from_settings, signer_from_settings
from ledger.vault import Vault


class LogLookupError(LookupError):
    """What a client asked for is not in the log (or not yet); ``code`` names which case."""

    def __init__(self, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.title, self.detail = code, title, detail


def _no_head(size: int) -> LogLookupError:
    return LogLookupError(
        "no-tree-head",
        "No signed tree head at that size",
        f"the log signed no tree head of size {size}; ask for the latest, or one it signed",
    )


@dataclass(frozen=True)
class DisclosedEvent:
    """An event as the log shows it: its disclosable form and its leaf, and who it
    concerns and comes from (for the caller to decide who may see it)."""

    position: int
    leaf_index: int | None
    leaf_input: bytes | None
    content: bytes
    subject_keys: frozenset[str]
    source: str | None
    openings: list[Opening]


class LogReader:
    """Signed tree heads and proofs, through a small pool of PostgreSQL connections."""

    def __init__(
        self, pool: ConnectionPool, key: LogKey, discloser: Discloser, vault: Vault | None = None
    ) -> None:
        self._pool, self.key, self.discloser, self.vault = pool, key, discloser, vault

    @classmethod
    def from_settings(cls, settings: Settings) -> LogReader:
        pool = ConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True},
            open=True,
        )
        with pool.connection() as conn:
            store.create_tables(conn)
        return cls(
            pool,
            signer_from_settings(settings).key,
            discloser_from_settings(settings),
            Keyring.from_settings(settings).vault(),
        )

    def close(self) -> None:
        self._pool.close()

    def latest_head(self) -> SignedTreeHead:
        with self._pool.connection() as conn:
            head = store.latest_head(conn)
        if head is None:
            raise LogLookupError("no-tree-head", "No tree head yet", "the sealer has not run yet")
        return head

    def head_at(self, tree_size: int) -> SignedTreeHead:
        with self._pool.connection() as conn:
            head = store.head_at(conn, tree_size)
        if head is None:
            raise _no_head(tree_size)
        return head

    def heads_after(self, after: int, limit: int) -> list[SignedTreeHead]:
        """The signed tree heads above size ``after``, smallest first (a page)."""
        with self._pool.connection() as conn:
            return store.heads_after(conn, after, limit)

    def sealed(self, positions: Sequence[int]) -> dict[int, SealedLeaf]:
        """Sealed leaves (index and hash) by ledger position; unsealed ones are absent."""
        if not positions:
            return {}
        with self._pool.connection() as conn:
            return store.leaves_at(conn, positions)

    def inclusion_by_event(
        self, source: str, event_id: str, tree_size: int | None = None
    ) -> dict[str, Any]:
        """Inclusion proof of the event a service submitted as (source, id)."""
        with self._pool.connection() as conn:
            position = store.position_of_submission(conn, source, event_id)
            if position is None:  # one aggregate per submission (an access, a share)
                position = store.position_of(conn, DataAccess.create_id(source, event_id))
        if position is None:
            raise LogLookupError(
                "not-in-log",
                "No such event in the ledger",
                "the ledger recorded no event with that source and id",
            )
        return self.inclusion(position, tree_size)

    def inclusion(self, position: int, tree_size: int | None = None) -> dict[str, Any]:
        """Inclusion proof of the event at ``position`` in a signed tree (default: latest)."""
        with self._pool.connection() as conn:
            head = store.latest_head(conn) if tree_size is None else store.head_at(conn, tree_size)
            if head is None:
                raise _no_head(tree_size or 0)
            leaf = store.leaves_at(conn, [position]).get(position)
            row = store.event_at(conn, position)
            if leaf is None:
                raise LogLookupError(
                    "not-yet-sealed" if row is not None else "not-in-log",
                    "Not in the log yet" if row is not None else "No such ledger position",
                    f"position {position} is "
                    + (
                        "recorded but not sealed yet; retry in a moment"
                        if row
                        else "not in the ledger"
                    ),
                )
            size = head.head.tree_size
            if leaf.leaf_index >= size:
                raise LogLookupError(
                    "leaf-not-in-tree",
                    "The event is newer than that tree",
                    f"position {position} is leaf {leaf.leaf_index}, "
                    f"not in the tree of size {size}",
                )
            if row is None:
                raise store.MissingNode(0, leaf.leaf_index)  # the sealed event row is gone
            proof, reads = _inclusion(conn, leaf.leaf_index, size)
        return inclusion_bundle(
            leaf_index=leaf.leaf_index,
            position=position,
            leaf_hash=leaf.leaf_hash,
            leaf_input=disclose(self.discloser, row, leaf).leaf_input,
            proof=proof,
            head=head,
            key=self.key,
            nodes_read=reads,
        )

    def record_disclosure(self, position: int, principal: str, role: str, reason: str) -> None:
        """Keep who was shown the event at ``position``, and why (an auditor's reason)."""
        with self._pool.connection() as conn:
            store.record_disclosure(conn, position, principal, role, reason)

    def event(self, position: int, openings_for: frozenset[str] = frozenset()) -> DisclosedEvent:
        """The event at ``position`` as the log shows it, with the openings of its
        commitments to ``openings_for`` (a citizen's own pseudonyms)."""
        with self._pool.connection() as conn:
            row = store.event_at(conn, position)
            if row is not None and self.vault is not None:
                row = store.open_rows(conn, self.vault, [row])[0]
            leaf = store.leaves_at(conn, [position]).get(position)
        if row is None or row.state is None:
            raise LogLookupError("not-in-log", "No such ledger position", "nothing is there")
        return disclose(self.discloser, row, leaf, openings_for)

    def consistency(self, first: int, second: int | None = None) -> dict[str, Any]:
        """Consistency proof from the signed tree of size ``first`` to ``second`` (or latest)."""
        with self._pool.connection() as conn:
            old = store.head_at(conn, first)
            new = store.latest_head(conn) if second is None else store.head_at(conn, second)
            if old is None or new is None:
                raise _no_head(first if old is None else second or 0)
            size1, size2 = first, new.head.tree_size
            if not 0 < size1 <= size2:
                raise LogLookupError(
                    "invalid-sizes",
                    "No consistency proof between those sizes",
                    f"sizes {size1} -> {size2}: need 0 < first <= second",
                )
            proof, reads = store.with_nodes(
                conn, lambda read: merkle.consistency_proof(size1, size2, read)
            )
        return consistency_bundle(
            first=old, second=new, proof=proof, key=self.key, nodes_read=reads
        )


def _inclusion(conn: Connection, leaf_index: int, size: int) -> tuple[list[bytes], int]:
    return store.with_nodes(conn, lambda read: merkle.inclusion_proof(leaf_index, size, read))


def inclusion_paths(
    conn: Connection, leaf_indices: Sequence[int], tree_size: int
) -> tuple[dict[int, list[bytes]], int]:
    """The inclusion proof of each leaf in the ``tree_size``-leaf tree, by leaf index,
    from one round trip for every node they need (shared nodes read once); also how many
    nodes were read."""
    return store.with_nodes(
        conn, lambda read: merkle.inclusion_proofs(leaf_indices, tree_size, read)
    )


def disclose(
    discloser: Discloser,
    row: EventRow,
    leaf: SealedLeaf | None,
    openings_for: frozenset[str] = frozenset(),
) -> DisclosedEvent:
    """An event as the log shows it (for whom may see it): its disclosable form, the
    leaf input it is checked against, who it concerns and comes from, and the openings
    of its commitments to ``openings_for`` (a citizen's own pseudonyms)."""
    if row.state is None:
        raise LogLookupError("not-in-log", "No such ledger position", "nothing is there")
    content, personal, parsed = discloser.disclosed(row.identity, row.state)
    opened = row.opened
    if opened is not None and opened.sealed:
        # Stored under data keys (ledger.vault): the values still held, each opened with
        # the salt of its slot key; nothing where the key is gone.
        personal = opened.values
    framed = None  # a v1 leaf's input framed the stored state itself: never shown
    if leaf is None or leaf.leaf_format != 1:
        framed = dataclasses.replace(row, content=content).leaf_input()
    return DisclosedEvent(
        position=row.position,
        leaf_index=None if leaf is None else leaf.leaf_index,
        leaf_input=framed,
        content=content,
        subject_keys=frozenset(value for pointer, value in personal if "/subject_key" in pointer),
        source=_source(orjson.loads(row.state) if parsed is None else parsed),
        openings=[
            Opening(pointer, opened.salts[pointer], value)
            if opened is not None and opened.sealed
            else discloser.opening(row.identity, pointer, value)
            for pointer, value in personal
            if value in openings_for
        ],
    )


def _source(value: Any) -> str | None:
    """The service that submitted the event (its state as read): the fact's own
    ``source``, or that of the submission a stateful change carries (None for
    administration made directly)."""
    if not isinstance(value, dict):
        return None
    found = value.get("source")
    if isinstance(found, str):
        return found
    submission = value.get("submission")
    if isinstance(submission, dict) and isinstance(submission.get("source"), str):
        return str(submission["source"])
    return None
