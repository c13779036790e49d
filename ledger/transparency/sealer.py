"""The sealer: turns newly committed ledger events into leaves and signs tree heads.

One batch is one transaction: read the events after the last sealed position, append
their leaf hashes to the frontier (rebuilt from stored nodes), write the leaves, every
node they complete and the new signed tree head, then commit. The sealer's position is
the last leaf row itself, so it commits with the leaves and a crash leaves either the
whole batch or none of it. A transaction-scoped advisory lock lets only one sealer write
at a time; a second one waits for the lock and then sees the first one's work.

eventsourcing inserts events under ``LOCK TABLE ... EXCLUSIVE`` until commit, so event
positions become visible in order: no event can later appear behind a sealed position.
Positions may have gaps (a rolled-back insert still consumed its bigserial value); leaf
indices do not, because the sealer numbers leaves itself.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from ledger.health import Health
from ledger.keyring import Keyring
from ledger.merkle import MerkleFrontier
from ledger.retry import RetryLoop
from ledger.settings import Settings
from ledger.transparency import store
from ledger.transparency.checkpoint import LogSigner, SignedTreeHead
from ledger.transparency.disclosure import Discloser
from ledger.transparency.leaves import EventRow, SealedLeaf

log = logging.getLogger("ledger.sealer")

SEALER_LOCK = 0x6C6F677365616C  # "logseal": one sealer writes at a time


@dataclass(frozen=True)
class Sealed:
    """What one call to :meth:`Sealer.seal` did."""

    leaves_added: int
    head: SignedTreeHead


def signer_from_settings(settings: Settings) -> LogSigner:
    """The log's signer: its origin and the ledger's log-signing key."""
    return LogSigner(settings.log_origin, Keyring.from_settings(settings).log_signing_key)


def discloser_from_settings(settings: Settings) -> Discloser:
    """What turns stored events into the disclosable form their leaves commit to."""
    return Discloser(Keyring.from_settings(settings).commitment_key)


class Sealer:
    """Integrates new leaves in batches and signs a tree head per batch."""

    def __init__(
        self,
        database_url: str,
        signer: LogSigner,
        discloser: Discloser,
        *,
        batch: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch < 1:
            raise ValueError("a seal batch holds at least one leaf")
        self.database_url, self.signer, self.batch, self.clock = database_url, signer, batch, clock
        self.discloser = discloser
        self._conn: psycopg.Connection | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        return cls(
            settings.database_url,
            signer_from_settings(settings),
            discloser_from_settings(settings),
            batch=settings.seal_batch,
        )

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database_url, autocommit=True)
            store.create_tables(self._conn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def seal(self) -> Sealed:
        """Seal everything committed so far (batch by batch); return the latest head."""
        total, added, head = 0, -1, None
        while added != 0:
            added, head = self._seal_batch(self._connection())
            total += added
        assert head is not None
        return Sealed(total, head)

    def _seal_batch(self, conn: psycopg.Connection) -> tuple[int, SignedTreeHead]:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEALER_LOCK,))
            size, last_position = store.tip(conn)
            latest = store.latest_head(conn)
            # Until the ledger creates its tables there is nothing to seal but the empty tree.
            has_events = store.has_events_table(conn)
            rows = store.events_after(conn, last_position, self.batch) if has_events else []
            if not rows and latest is not None and latest.head.tree_size == size:
                return 0, latest
            frontier, _ = store.with_nodes(conn, lambda read: MerkleFrontier.from_nodes(size, read))
            nodes = frontier.extend(self._leaf_hash(row) for row in rows)
            leaves = [
                SealedLeaf(size + i, row.position, row.originator_id, row.originator_version, b"")
                for i, row in enumerate(rows)
            ]
            # Tree head times never go backwards, even if the clock does.
            stamp = int(self.clock() * 1000)
            if latest is not None:
                stamp = max(stamp, latest.head.timestamp_ms)
            head = self.signer.sign(frontier.size, frontier.root(), stamp)
            store.append(conn, leaves, nodes, head)
        if rows:
            log.info("sealed %d leaves; tree size %d", len(rows), frontier.size)
        return len(rows), head

    def _leaf_hash(self, row: EventRow) -> bytes:
        """The leaf of an event: over its disclosable form (``ledger-leaf/v2``)."""
        content = self.discloser.disclosable(row.identity, row.state or b"null")
        return dataclasses.replace(row, content=content).leaf_hash()

    def run(self, stop: threading.Event, interval: float, health: Health | None = None) -> None:
        """Seal every ``interval`` seconds until ``stop`` is set; a failure (the database
        away) is retried with back-off, and reported as stuck when it goes on."""

        def step() -> float:
            self.seal()
            if health is not None:
                health.progressed()
            return interval

        RetryLoop(
            "sealer",
            (psycopg.OperationalError, psycopg.InterfaceError),
            health,
            on_failure=lambda _: self.close(),
        ).run(step, stop)
