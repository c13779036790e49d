"""The batched projection runner: the ledger's notification log into every view.

eventsourcing's own ``ProjectionRunner`` commits one transaction per event (about
1,300 events/s here); this one applies up to ``batch`` events per PostgreSQL
transaction, with the view's tracking row in the same transaction, and buffers bulk
rows for ``COPY``. Each view runs in its own thread with its own connection and
position, so a slow or rebuilt view holds no other back. A LISTEN on the ledger's
notification channel wakes the views as soon as the ledger commits; a short poll is the
fallback, so latency stays well under a second either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from ledger.application import Ledger
from ledger.settings import Settings
from projections.view import Projection, lock_view, tracked_position, write_tracking
from projections.views import all_projections

log = logging.getLogger("ledger.projections")

BATCH = 500
IDLE_POLL_SECONDS = 0.2  # fallback when no NOTIFY arrives
RETRY_SECONDS = 1.0


class LogReader:
    """What a runner needs of the ledger: the notification log and the event mapper."""

    def __init__(self, ledger: Ledger) -> None:
        self.recorder: Any = ledger.recorder
        self.mapper = ledger.mapper

    def head(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def read(self, after: int, limit: int, topics: Sequence[str]) -> list[Any]:
        return list(self.recorder.select_notifications(after + 1, limit, topics=list(topics)))

    def decode(self, notification: Any) -> Any:
        return self.mapper.to_domain_event(notification)


class ViewRunner:
    """Keeps one view up to date, one batch per transaction."""

    def __init__(
        self,
        projection: Projection,
        reader: LogReader,
        conn: psycopg.Connection[Any],
        batch: int = BATCH,
    ) -> None:
        self.projection = projection
        self.reader = reader
        self.conn = conn
        self.batch = batch

    def run_batch(self, stop_at: int | None = None) -> int:
        """Apply the next batch; the number of log positions it moved the view on.

        ``stop_at`` bounds the batch (a rebuild catching up to a known head).
        """
        schema = self.projection.schema
        head = self.reader.head() if stop_at is None else stop_at
        try:
            with self.conn.transaction(), self.conn.cursor() as curs:
                if schema == self.projection.name:  # the live view: a rebuild may swap it
                    lock_view(curs, self.projection.name)
                position = tracked_position(curs, schema, lock=True)
                if position >= head:
                    return 0
                notifications = [
                    n
                    for n in self.reader.read(position, self.batch, self.projection.topics)
                    if n.id <= head
                ]
                for notification in notifications:
                    event = self.reader.decode(notification)
                    self.projection.apply(event, notification.id, curs)
                self.projection.flush(curs)
                # Fewer than a batch: every relevant event up to ``head`` was read (the
                # ledger commits in position order), so the view has reached ``head``.
                full = len(notifications) == self.batch
                reached = notifications[-1].id if full else head
                write_tracking(curs, schema, reached)
                return reached - position
        except BaseException:
            self.projection.discard()
            raise

    def catch_up(self, stop: threading.Event | None = None, stop_at: int | None = None) -> int:
        """Apply batches until the view has reached the head; the positions moved."""
        moved = 0
        while stop is None or not stop.is_set():
            step = self.run_batch(stop_at)
            if step == 0:
                break
            moved += step
        return moved


def connect(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.database_url)


def prepare_views(settings: Settings, projections: Sequence[Projection] | None = None) -> None:
    """Create every view's schema and tables (idempotent)."""
    with connect(settings) as conn:
        for projection in projections or all_projections():
            projection.create(conn)


def _listen(
    settings: Settings, channel: str, wake: Callable[[], None], stop: threading.Event
) -> None:
    while not stop.is_set():
        try:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                conn.execute(SQL("LISTEN {}").format(Identifier(channel)))
                while not stop.is_set():
                    for _ in conn.notifies(timeout=0.1, stop_after=1):
                        wake()
        except psycopg.OperationalError:
            log.warning("lost the notification channel; polling until it is back")
            stop.wait(RETRY_SECONDS)


def _follow(
    settings: Settings,
    projection: Projection,
    ledger: Ledger,
    wake: threading.Event,
    stop: threading.Event,
) -> None:
    reader = LogReader(ledger)
    while not stop.is_set():
        try:
            with connect(settings) as conn:
                runner = ViewRunner(projection, reader, conn)
                while not stop.is_set():
                    wake.clear()
                    runner.catch_up(stop)
                    wake.wait(IDLE_POLL_SECONDS)
        except psycopg.OperationalError as exc:
            log.warning("view %s lost its database connection (%s); retrying", projection.name, exc)
            stop.wait(RETRY_SECONDS)


def run_projections(
    settings: Settings, stop: threading.Event, projections: Sequence[Projection] | None = None
) -> None:
    """Follow the ledger and keep every view up to date until ``stop`` is set."""
    chosen = list(projections or all_projections())
    prepare_views(settings, chosen)
    ledger = Ledger.from_settings(settings)
    wakes = [threading.Event() for _ in chosen]

    def wake_all() -> None:
        for event in wakes:
            event.set()

    threads = [
        threading.Thread(
            target=_follow, args=(settings, p, ledger, w, stop), name=f"view-{p.name}", daemon=True
        )
        for p, w in zip(chosen, wakes, strict=True)
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
