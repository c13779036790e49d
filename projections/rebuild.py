"""Rebuild a view from the log while the old one keeps serving, then swap them.

The new view is built in a shadow schema (``<name>__next``) in large batches. When it
has nearly caught up, one transaction holds the live view (its runner waits), applies
the last events, and renames the schemas: readers and the runner see the new view from
the next statement on. The old schema is dropped in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from psycopg.sql import SQL, Identifier

from ledger.application import Ledger
from ledger.settings import Settings
from projections.runner import VIEWS_NEVER_READ, LogReader, ViewRunner, connect
from projections.view import lock_view, tracked_position
from projections.views import VIEWS

REBUILD_BATCH = 2_000
# Swap once the shadow view is this close to the head; the rest is applied in the swap.
SWAP_WITHIN = 5_000

Progress = Callable[[int, int], None]  # (position reached, head)


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did: the view, the position it reached, its time and rate."""

    name: str
    position: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.position / self.seconds if self.seconds else 0.0


def rebuild(settings: Settings, name: str, progress: Progress | None = None) -> Rebuilt:
    """Rebuild the view ``name`` from the whole log and swap it in."""
    shadow = f"{name}__next"
    projection = VIEWS[name](shadow)
    started = time.perf_counter()
    ledger = Ledger.from_settings(settings)
    ledger.ledger_recorder.skip = VIEWS_NEVER_READ
    try:
        with connect(settings) as conn:
            VIEWS[name]().create(conn)  # the live view exists, to be swapped out
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(shadow)))
            conn.commit()
            projection.create(conn)
            reader = LogReader(ledger)
            runner = ViewRunner(projection, reader, conn, batch=REBUILD_BATCH)
            while True:
                head = reader.head()
                with conn.cursor() as curs:
                    reached = tracked_position(curs, shadow)
                conn.commit()
                if progress:
                    progress(reached, head)
                if head - reached <= SWAP_WITHIN:
                    break
                runner.run_batch(stop_at=head)
            with conn.transaction(), conn.cursor() as curs:
                lock_view(curs, name)
                runner.catch_up()  # savepoints inside the swap's transaction
                reached = tracked_position(curs, shadow)
                retired = Identifier(f"{name}__old")
                curs.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(retired))
                curs.execute(SQL("ALTER SCHEMA {} RENAME TO {}").format(Identifier(name), retired))
                curs.execute(
                    SQL("ALTER SCHEMA {} RENAME TO {}").format(Identifier(shadow), Identifier(name))
                )
                curs.execute(SQL("DROP SCHEMA {} CASCADE").format(retired))
            if progress:
                progress(reached, reached)
    finally:
        ledger.close()
    return Rebuilt(name, reached, time.perf_counter() - started)
