"""The batched projection runner: the ledger's notification log into every view.

eventsourcing's own ``ProjectionRunner`` commits one transaction per event (about
1,300 events/s here); this one reads a batch of up to ``batch`` events once for the
views that are level with each other, then applies it to all of them in one PostgreSQL
transaction, with each view's tracking row in that transaction, and buffers bulk rows
for ``COPY``. Each view keeps its own position: a view far behind (rebuilt and swapped
in, or new) catches up with reads and transactions of its own, so it holds no other
back. A
LISTEN on the ledger's notification channel wakes the views as soon as the ledger
commits; a short poll is the fallback, so latency stays well under a second either way.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial, singledispatchmethod
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg.sql import SQL, Identifier

from ledger.application import Ledger
from ledger.database_roles import may_create_schemas, require_tables
from ledger.health import Health
from ledger.retry import RetryLoop
from ledger.settings import Settings
from projections.view import Projection, lock_views, tracked_positions, write_trackings
from projections.views import all_projections

log = logging.getLogger("ledger.projections")

Handler = Callable[[Any, int, Any], None]

BATCH = 2000
# What no view reads of an event: not decrypted for them (ledger.vault).
VIEWS_NEVER_READ = frozenset({"envelope_sealed"})
IDLE_POLL_SECONDS = 0.2  # fallback when no NOTIFY arrives


class LogReader:
    """What a runner needs of the ledger: the notification log and the event mapper."""

    def __init__(self, ledger: Ledger) -> None:
        self.recorder: Any = ledger.recorder
        self.mapper = ledger.mapper
        self.vault = ledger.vault

    def head(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def read(self, after: int, limit: int, topics: Sequence[str]) -> list[Any]:
        return list(self.recorder.select_notifications(after + 1, limit, topics=list(topics)))

    def decode(self, notification: Any) -> Any:
        return self.mapper.to_domain_event(notification)


class ViewRunner:
    """Keeps one or more views up to date, one batch per transaction.

    A batch of the log is read and decoded once for the views level with each other
    (the union of their topics), then applied to all of them in one transaction, each
    view with its own tracking row: so the read, the decode and the round trips to
    PostgreSQL are not repeated per view, and each view still has its own position (one
    may be rebuilt and swapped while the others run on).
    """

    def __init__(
        self,
        projections: Projection | Sequence[Projection],
        reader: LogReader,
        conn: psycopg.Connection[Any],
        batch: int = BATCH,
    ) -> None:
        self.projections = (
            [projections] if isinstance(projections, Projection) else list(projections)
        )
        self.reader = reader
        self.conn = conn
        self.batch = batch
        for projection in self.projections:
            if projection.vault is None:
                projection.vault = getattr(reader, "vault", None)
        self._topics_of = {id(p): frozenset(p.topics) for p in self.projections}
        self._handlers: dict[tuple[int, type], Handler] = {}

    def _handler(self, projection: Projection, kind: type) -> Handler:
        """The view's handler of an event type, found once: ``singledispatchmethod``
        builds a new bound wrapper on every attribute access, ~2 us a call."""
        key = (id(projection), kind)
        if key not in self._handlers:
            method = inspect.getattr_static(type(projection), "apply")
            if isinstance(method, singledispatchmethod):
                self._handlers[key] = partial(method.dispatcher.dispatch(kind), projection)
            else:
                self._handlers[key] = projection.apply
        return self._handlers[key]

    def run_batch(self, stop_at: int | None = None) -> int:
        """Apply the next batch; the most log positions any view moved on.

        Views within a batch of the most advanced one share one read and decode; a view
        further behind (rebuilt, or new) catches up with reads of its own, a batch per
        call, so it holds none of the others back. ``stop_at`` bounds the batch (a
        rebuild catching up to a known head).
        """
        head = self.reader.head() if stop_at is None else stop_at
        with self.conn.transaction(), self.conn.cursor() as curs:
            found = tracked_positions(curs, [p.schema for p in self.projections])
        behind = [
            (position, p)
            for position, p in zip(found, self.projections, strict=True)
            if position < head
        ]
        if not behind:
            return 0
        front = max(position for position, _ in behind)
        together = [(position, p) for position, p in behind if front - position <= self.batch]
        groups = [together] + [[(pos, p)] for pos, p in behind if front - pos > self.batch]
        return max(self._run_group(group, head) for group in groups)

    def _run_group(self, group: list[tuple[int, Projection]], head: int) -> int:
        low = min(position for position, _ in group)
        topics = list(dict.fromkeys(t for _, p in group for t in p.topics))
        notifications = [n for n in self.reader.read(low, self.batch, topics) if n.id <= head]
        # Fewer than a batch: every relevant event up to ``head`` was read (the ledger
        # commits in position order), so the views can reach ``head``.
        full = len(notifications) == self.batch
        reached = notifications[-1].id if full else head
        events = [(n.id, n.topic, self.reader.decode(n)) for n in notifications]
        self._apply([p for _, p in group], events, low, reached)
        return reached - low

    def _apply(
        self,
        projections: list[Projection],
        events: list[tuple[int, str, Any]],
        low: int,
        reached: int,
    ) -> None:
        """Apply a batch to views level with each other, in one transaction.

        Each view's rows and its tracking row still move together; one transaction
        instead of one per view saves about 25 round trips to PostgreSQL a batch (at 500
        events a batch, ~2 us an event of the runner's time and ~2-3 of PostgreSQL's).
        Live views are locked first, in name order, so a rebuild's swap of any of them
        waits for the batch, or the batch for it."""
        try:
            with self.conn.transaction(), self.conn.cursor() as curs:
                live = [p.name for p in projections if p.schema == p.name]
                if live:  # the live views: a rebuild may swap them
                    lock_views(curs, live)
                found = tracked_positions(curs, [p.schema for p in projections], lock=True)
                moved: list[str] = []
                for projection, position in zip(projections, found, strict=True):
                    # Another runner moved it on, or a swap put it behind what was read.
                    if position >= reached or position < low:
                        continue
                    topics = self._topics_of[id(projection)]
                    for event_id, topic, event in events:
                        if event_id > position and topic in topics:
                            self._handler(projection, type(event))(event, event_id, curs)
                    projection.flush(curs)
                    moved.append(projection.schema)
                write_trackings(curs, moved, reached)
        except BaseException:
            for projection in projections:
                projection.discard()
            raise

    def catch_up(self, stop: threading.Event | None = None, stop_at: int | None = None) -> int:
        """Apply batches until every view has reached the head; the positions moved."""
        moved = 0
        while stop is None or not stop.is_set():
            step = self.run_batch(stop_at)
            if step == 0:
                break
            moved += step
        return moved


def connect(settings: Settings) -> psycopg.Connection[Any]:
    """A connection for writing views.

    Its commits do not wait for the WAL to reach the disk (``synchronous_commit = off``):
    a view is derived from the ledger, and each batch's rows go with its tracking row,
    so a database crash can only lose the last batches of a view, which are applied again
    from the ledger on restart. The ledger's own commits stay synchronous."""
    conn = psycopg.connect(settings.database_url)
    conn.execute("SET synchronous_commit = off")
    conn.commit()
    return conn


def prepare_views(settings: Settings, projections: Sequence[Projection] | None = None) -> None:
    """Create every view's schema and tables (idempotent); say which views were built
    with an older layout (they work, and a rebuild brings them up to date)."""
    chosen = projections or all_projections()
    with connect(settings) as conn:
        creates = may_create_schemas(conn)
        conn.rollback()  # end the check's transaction: each view creates in its own
        if not creates:  # a process's own role: `ledger init` made them
            require_tables(conn, [f"{p.schema}.tracking" for p in chosen])
            return
        for projection in chosen:
            projection.create(conn)
            reason = projection.outdated(conn)
            conn.rollback()  # end the check's transaction
            if reason:
                log.warning(
                    "view %s has an older layout: %s; `ledger projections rebuild %s` "
                    "brings it up to date while it keeps serving",
                    projection.name,
                    reason,
                    projection.name,
                )


# Failures that pass: the database or a connection to it is away.
DATABASE_AWAY = (psycopg.OperationalError, psycopg.InterfaceError, OperationalError, InterfaceError)


def _listen(
    settings: Settings, channel: str, wake: Callable[[], None], stop: threading.Event
) -> None:
    """Wake the views whenever the ledger commits (NOTIFY); polling covers a gap."""
    held: list[psycopg.Connection[Any]] = []

    def step() -> float:
        if not held:
            conn = psycopg.connect(settings.database_url, autocommit=True)
            conn.execute(SQL("LISTEN {}").format(Identifier(channel)))
            held.append(conn)
        for _ in held[0].notifies(timeout=0.1, stop_after=1):
            wake()
        return 0.0

    def lost(_: BaseException) -> None:
        log.warning("lost the notification channel; polling until it is back")
        while held:
            held.pop().close()

    RetryLoop("notification listener", DATABASE_AWAY, on_failure=lost).run(step, stop)
    lost(ConnectionError())


def _follow(
    settings: Settings,
    projections: Sequence[Projection],
    ledger: Ledger,
    wake: threading.Event,
    stop: threading.Event,
    health: Health,
) -> None:
    """Apply the ledger to ``projections`` until ``stop``; nothing ends this but stop:
    a failure is retried with back-off, and reported as stuck when it goes on."""
    reader = LogReader(ledger)
    held: list[tuple[psycopg.Connection[Any], ViewRunner]] = []

    def step() -> float:
        if not held:
            conn = connect(settings)
            held.append((conn, ViewRunner(projections, reader, conn)))
        wake.clear()
        held[0][1].catch_up(stop)
        health.progressed()
        wake.wait(IDLE_POLL_SECONDS)
        return 0.0

    def failed(_: BaseException) -> None:
        while held:
            conn, _runner = held.pop()
            conn.close()

    names = ", ".join(p.name for p in projections)
    RetryLoop(f"views {names}", DATABASE_AWAY, health, on_failure=failed).run(step, stop)
    failed(ConnectionError())


def run_projections(
    settings: Settings,
    stop: threading.Event,
    projections: Sequence[Projection] | None = None,
    ready: Callable[[], None] | None = None,
    health: Health | None = None,
) -> None:
    """Follow the ledger and keep every view up to date until ``stop`` is set;
    ``ready`` is called once everything is set up, before the views start; ``health``
    says how they are doing."""
    chosen = list(projections or all_projections())
    prepare_views(settings, chosen)
    ledger = Ledger.from_settings(settings)
    ledger.ledger_recorder.skip = VIEWS_NEVER_READ
    if ready is not None:
        ready()
    wake = threading.Event()
    wake_all = wake.set
    threads = [
        threading.Thread(
            target=_follow,
            args=(settings, chosen, ledger, wake, stop, health or Health("project")),
            name="views",
            daemon=True,
        )
    ]
    channel = getattr(ledger.recorder, "channel_name", None)
    if channel:
        threads.append(
            threading.Thread(
                target=_listen, args=(settings, channel, wake_all, stop), name="listen", daemon=True
            )
        )
    for thread in threads:
        thread.start()
    log.info("views %s following the ledger", ", ".join(p.name for p in chosen))
    try:
        while not stop.wait(0.5):
            dead = [t.name for t in threads if not t.is_alive()]
            if dead:
                raise RuntimeError(f"projection threads stopped: {dead}")
    finally:
        stop.set()
        wake_all()
        for thread in threads:
            thread.join(timeout=10)
        ledger.close()
