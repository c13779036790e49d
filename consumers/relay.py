"""The relay: publishes what the ledger has durably recorded, in order, at least once.

Two outboxes, each with its own position tracked in PostgreSQL:

- ``ledger.events``: every committed ledger event, in ledger order, with the position
  in the ``ledger-position`` header and the stored event (pseudonyms and a sealed
  envelope only: no identifier in clear) as the value.
- ``ledger.rejected``: every stored refusal, with the original bytes as the value and
  ``ledger-reason``, ``ledger-detail``, ``ledger-pointer`` and
  ``ledger-source-topic/partition/offset`` headers.

A position advances only after the broker acknowledged the batch (acks=all), so a
restart neither skips a record nor replays more than the one unacknowledged batch
that Kafka's at-least-once delivery allows. Consumers dedupe by position. Positions
increase but may have gaps (a rolled-back transaction consumes sequence numbers).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import psycopg
from eventsourcing.persistence import Notification, OperationalError, Tracking
from kafka import KafkaProducer
from kafka.errors import KafkaError

from consumers.metrics import RelayMetrics
from ledger.application import Ledger
from ledger.keyring import Keyring
from ledger.settings import Settings

log = logging.getLogger("ledger.relay")

BATCH = 500
RELAY_LOCK_KEY = 0x5E1A7
TRANSIENT = (KafkaError, OperationalError, psycopg.OperationalError, psycopg.InterfaceError)


@dataclass(frozen=True)
class Outgoing:
    position: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Outbox(Protocol):
    topic: str

    def fetch(self, after: int, limit: int) -> Sequence[Outgoing]: ...


def relay_tracking_name(topic: str) -> str:
    return f"relay:{topic}"


def _subject_key(notification: Notification) -> bytes:
    """Partition by subject key where the event has one, so a citizen's events keep order."""
    try:
        state = json.loads(notification.state)
    except ValueError:
        state = {}
    if not isinstance(state, dict):
        state = {}
    keys = state.get("subject_keys") or [state.get("subject_key")]  # facts / stateful events
    return str(keys[0] or notification.originator_id).encode()


class LedgerEvents:
    """The notification log of the ledger."""

    def __init__(self, ledger: Ledger, topic: str) -> None:
        self.ledger = ledger
        self.topic = topic

    def fetch(self, after: int, limit: int) -> list[Outgoing]:
        return [
            Outgoing(
                position=n.id,
                key=_subject_key(n),
                value=n.state,
                headers=[
                    ("ledger-position", str(n.id).encode()),
                    ("ledger-topic", n.topic.encode()),
                    ("ledger-originator-id", str(n.originator_id).encode()),
                    ("ledger-originator-version", str(n.originator_version).encode()),
                ],
            )
            for n in self.ledger.recorder.select_notifications(start=after + 1, limit=limit)
        ]


class DeadLetters:
    """The stored refusals, published with their original bytes and reasons."""

    def __init__(self, ledger: Ledger, keyring: Keyring, topic: str) -> None:
        self.ledger = ledger
        self.keyring = keyring
        self.topic = topic

    def fetch(self, after: int, limit: int) -> list[Outgoing]:
        return [
            Outgoing(
                position=row["refusal_id"],
                key=None,
                value=self.keyring.open(bytes(row["raw_sealed"])),
                headers=[
                    ("ledger-refusal-id", str(row["refusal_id"]).encode()),
                    ("ledger-reason", row["reason"].encode()),
                    ("ledger-detail", row["detail"].encode()),
                    ("ledger-pointer", row["pointer"].encode()),
                    ("ledger-stage", b"intake"),
                    ("ledger-channel", row["channel"].encode()),
                    ("ledger-source-topic", (row["topic"] or "").encode()),
                    ("ledger-source-partition", str(row["kafka_partition"]).encode()),
                    ("ledger-source-offset", str(row["kafka_offset"]).encode()),
                ],
            )
            for row in self.ledger.ledger_recorder.select_refusals(after, limit)
        ]


class Relay:
    """Copies the ledger's outboxes to Kafka topics, in order, at least once."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.outboxes: list[Outbox] = [
            LedgerEvents(ledger, settings.topic_events),
            DeadLetters(ledger, Keyring.from_settings(settings), settings.topic_rejected),
        ]
        self.producer: KafkaProducer | None = None
        self.published = 0
        self.metrics = RelayMetrics()

    def _producer(self) -> KafkaProducer:
        # Recreated after any failure: after a broker restart an idempotent producer's
        # id is unknown to the broker and the old instance fails forever (BROKER.md).
        if self.producer is None:
            self.producer = KafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                max_in_flight_requests_per_connection=1,  # keep order on retries
                max_block_ms=5000,  # fail fast into the retry loop, stay responsive to stop
            )
        return self.producer

    def position(self, topic: str | None = None) -> int:
        name = relay_tracking_name(topic or self.settings.topic_events)
        return self.ledger.recorder.max_tracking_id(name) or 0  # type: ignore[attr-defined]

    def publish(self, topic: str, batch: Sequence[Outgoing]) -> None:
        """Send a batch, wait for every acknowledgement, then track the last position."""
        producer = self._producer()
        futures = [
            producer.send(topic, key=item.key, value=item.value, headers=item.headers)
            for item in batch
        ]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)  # raises if any record was not acknowledged
        self.ledger.recorder.insert_tracking(  # type: ignore[attr-defined]
            Tracking(relay_tracking_name(topic), batch[-1].position)
        )
        self.published += len(batch)
        self.metrics.published.labels(topic).inc(len(batch))
        self.metrics.position.labels(topic).set(batch[-1].position)

    def run_once(self) -> int:
        """Publish what is durable but not yet relayed; returns how many were sent."""
        sent = 0
        for outbox in self.outboxes:
            batch = outbox.fetch(self.position(outbox.topic), BATCH)
            if batch:
                self.publish(outbox.topic, batch)
                sent += len(batch)
        return sent

    def run(self, stop: threading.Event, idle_wait: float = 0.05) -> None:
        with self.ledger.recorder.datastore.get_connection() as leader:  # type: ignore[attr-defined]
            # One active relay at a time; others wait as hot standbys.
            while not stop.is_set():
                row = leader.execute(
                    "SELECT pg_try_advisory_lock(%s) AS won", (RELAY_LOCK_KEY,)
                ).fetchone()
                if row and row["won"]:
                    break
                stop.wait(1.0)
            try:
                self._relay(stop, idle_wait)
            finally:
                leader.execute("SELECT pg_advisory_unlock(%s)", (RELAY_LOCK_KEY,))

    def _relay(self, stop: threading.Event, idle_wait: float) -> None:
        log.info("relaying to %s", ", ".join(o.topic for o in self.outboxes))
        backoff = 0.1
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    stop.wait(idle_wait)
                backoff = 0.1
            except TRANSIENT as exc:
                self.metrics.transient_failures.inc()
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
