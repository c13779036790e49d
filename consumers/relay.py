"""The relay: publishes committed ledger events to ``ledger.events``, in ledger order.

Each record carries the ledger position in the ``ledger-position`` header and the
stored event (pseudonyms and sealed envelope only: no identifier in clear) as its
value. The relay's own position is tracked in PostgreSQL and advanced only after the
broker acknowledged a batch (acks=all), so a restart neither skips an event nor
replays more than the one unacknowledged batch that Kafka's at-least-once delivery
allows. Consumers dedupe by position. Positions increase but may have gaps (a rolled-
back transaction consumes sequence numbers), so never wait for a missing number.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence

from eventsourcing.persistence import Notification, OperationalError, Tracking
from kafka import KafkaProducer
from kafka.errors import KafkaError

from ledger.application import Ledger
from ledger.settings import Settings

log = logging.getLogger("ledger.relay")

BATCH = 500
RELAY_LOCK_KEY = 0x5E1A7


def relay_tracking_name(topic: str) -> str:
    return f"relay:{topic}"


def record_key(notification: Notification) -> bytes:
    """Partition by subject key where the event has one, so a citizen's events keep order."""
    try:
        state = json.loads(notification.state)
    except ValueError:
        state = {}
    keys = state.get("subject_keys") if isinstance(state, dict) else None
    return (keys[0] if keys else str(notification.originator_id)).encode()


def headers_for(notification: Notification) -> list[tuple[str, bytes]]:
    return [
        ("ledger-position", str(notification.id).encode()),
        ("ledger-topic", notification.topic.encode()),
        ("ledger-originator-id", str(notification.originator_id).encode()),
        ("ledger-originator-version", str(notification.originator_version).encode()),
    ]


class Relay:
    """Copies the ledger's notification log to a Kafka topic, in order, at least once."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.topic = settings.topic_events
        self.tracking_name = relay_tracking_name(self.topic)
        self.producer: KafkaProducer | None = None
        self.published = 0

    def _producer(self) -> KafkaProducer:
        # Recreated after any send failure: after a broker restart an idempotent producer's
        # id is unknown to the broker and the old instance fails forever (BROKER.md).
        if self.producer is None:
            self.producer = KafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                max_in_flight_requests_per_connection=1,  # keep ledger order on retries
            )
        return self.producer

    def position(self) -> int:
        return self.ledger.recorder.max_tracking_id(self.tracking_name) or 0  # type: ignore[attr-defined]

    def publish(self, notifications: Sequence[Notification]) -> None:
        """Send a batch, wait for every acknowledgement, then track the last position."""
        producer = self._producer()
        futures = [
            producer.send(self.topic, key=record_key(n), value=n.state, headers=headers_for(n))
            for n in notifications
        ]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)  # raises if any record was not acknowledged
        self.ledger.recorder.insert_tracking(  # type: ignore[attr-defined]
            Tracking(self.tracking_name, notifications[-1].id)
        )
        self.published += len(notifications)

    def run_once(self) -> int:
        """Publish what is committed but not yet relayed; returns how many were sent."""
        batch = self.ledger.recorder.select_notifications(start=self.position() + 1, limit=BATCH)
        if batch:
            self.publish(batch)
        return len(batch)

    def run(self, stop: threading.Event, idle_wait: float = 0.05) -> None:
        with self.ledger.recorder.datastore.get_connection() as leader:  # type: ignore[attr-defined]
            # One active relay at a time; others wait as hot standbys.
            while not stop.is_set():
                row = leader.execute(
                    "SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK_KEY,)
                ).fetchone()
                if row and next(iter(row.values())):
                    break
                stop.wait(1.0)
            try:
                self._relay(stop, idle_wait)
            finally:
                leader.execute("SELECT pg_advisory_unlock(%s)", (RELAY_LOCK_KEY,))

    def _relay(self, stop: threading.Event, idle_wait: float) -> None:
        log.info("relaying the ledger to %s from position %d", self.topic, self.position())
        backoff = 0.1
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    stop.wait(idle_wait)
                backoff = 0.1
            except (KafkaError, OperationalError) as exc:
                log.warning("relay failed, retrying in %.1f s: %s", backoff, exc)
                self.close_producer()
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.close_producer()

    def close_producer(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except KafkaError as exc:
                log.debug("closing a failed producer: %s", exc)
            self.producer = None
