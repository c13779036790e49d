"""The outbox publisher: what the ledger has durably recorded, out to Kafka, in order,
at least once.

Two outboxes, each with its own position tracked in PostgreSQL:

- ``ledger.events``: every committed ledger event, in ledger order, with the position
  in the ``ledger-position`` header and the stored event (pseudonyms and a sealed
  envelope only: no identifier in clear) as the value.
- ``ledger.rejected``: every stored refusal, with what the ledger kept of the received
  bytes (bounded: see ``ledger.refusals``), sealed, as the value and ``ledger-reason``,
  ``ledger-detail``, ``ledger-pointer``, ``ledger-received-sha256`` and
  ``ledger-source-topic/partition/offset`` headers.

A position advances only after the broker acknowledged the batch (acks=all), so a
restart neither skips a record nor replays more than the one unacknowledged batch
that Kafka's at-least-once delivery allows. Consumers dedupe by position. Positions
increase but may have gaps (a rolled-back transaction consumes sequence numbers).

Nothing can wedge it: a record the broker refuses for itself (too large, invalid) is
reported (an error log, the ``skipped`` metric and a row
in ``ledger_outbox_skipped``) and skipped past; only the broker or the database being
away is retried, with back-off, and reported as stuck when it goes on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.persistence import Notification, Tracking
from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from ledger.application import Ledger
from ledger.health import Health
from ledger.leadership import Leadership
from ledger.positions import outbox_name
from ledger.retry import RetryLoop
from ledger.settings import Settings
from ledger.writing import TRANSIENT as DATABASE_AWAY

log = logging.getLogger("ledger.outbox")

BATCH = 500
PUBLISHER_LOCK_KEY = 0x5E1A7
# How a dead letter's value is sealed: a 24-byte nonce, then the XSalsa20-Poly1305 box
# under the ledger's sealing key (ledger.keyring.Keyring.open).
SEALED = b"xsalsa20poly1305; key=ledger-seal"
IDLE_SECONDS = 0.05  # nothing to publish: look again this soon
STANDBY_SECONDS = 1.0  # another publisher leads: ask again this often
# What one record may take on the wire: Kafka's default producer and broker limit.
MAX_RECORD_BYTES = 1_048_576


class Unpublishable(Exception):
    """One record cannot be published, now or ever (the broker refuses it for itself,
    or its stored form cannot be read back): it is reported and skipped past."""


def _record_level(exc: KafkaError) -> bool:
    """A failure of one record (its size or its bytes), not of the connection."""
    from kafka.errors import (
        CorruptRecordError,
        InvalidRecordError,
        MessageSizeTooLargeError,
        RecordListTooLargeError,
    )

    return isinstance(
        exc,
        MessageSizeTooLargeError
        | RecordListTooLargeError
        | InvalidRecordError
        | CorruptRecordError,
    )


class OutboxMetrics:
    """What an operator watches on the outbox publisher."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.published = Counter(
            "ledger_outbox_records_published",
            "Records published and acknowledged, by topic",
            ["topic"],
            registry=r,
        )
        self.skipped = Counter(
            "ledger_outbox_records_skipped",
            "Records that could not be published and were skipped past, by topic",
            ["topic"],
            registry=r,
        )
        self.position = Gauge(
            "ledger_outbox_position", "Last position published, by topic", ["topic"], registry=r
        )
        self.transient_failures = Counter(
            "ledger_outbox_transient_failures",
            "Retried failures (database or broker away)",
            registry=r,
        )
        self.stuck = Gauge(
            "ledger_outbox_stuck",
            "1 while publishing has failed several times in a row",
            registry=r,
        )


@dataclass(frozen=True)
class Outgoing:
    """One record to publish."""

    position: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Outbox(Protocol):
    topic: str

    def fetch(self, after: int, limit: int) -> Sequence[Outgoing]: ...


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
    """The stored refusals, published with what was kept of the received bytes, sealed
    (they may carry raw identifiers: only the operator, with the ledger's secret, opens
    them) and the SHA-256 of those bytes, by which a sender finds its own submission."""

    def __init__(self, ledger: Ledger, topic: str) -> None:
        self.ledger = ledger
        self.topic = topic

    def fetch(self, after: int, limit: int) -> list[Outgoing]:
        return [
            self._letter(row) for row in self.ledger.ledger_recorder.select_refusals(after, limit)
        ]

    @staticmethod
    def _letter(row: dict[str, Any]) -> Outgoing:
        headers = [
            ("ledger-refusal-id", str(row["refusal_id"]).encode()),
            ("ledger-reason", str(row["reason"]).encode()),
            ("ledger-detail", str(row["detail"]).encode()),
            ("ledger-pointer", str(row["pointer"]).encode()),
            ("ledger-stage", b"intake"),
            ("ledger-channel", str(row["channel"]).encode()),
            ("ledger-source-topic", str(row["topic"] or "").encode()),
            ("ledger-source-partition", str(row["kafka_partition"]).encode()),
            ("ledger-source-offset", str(row["kafka_offset"]).encode()),
            ("ledger-received-sha256", str(row["raw_sha256"]).encode()),
            ("ledger-sealed", SEALED),
        ]
        if row["topic_incarnation"]:
            headers.append(("ledger-source-incarnation", str(row["topic_incarnation"]).encode()))
        if row["raw_truncated"]:
            headers.append(("ledger-truncated-from", str(row["raw_size"]).encode()))
        return Outgoing(int(str(row["refusal_id"])), None, bytes(row["raw_sealed"]), headers)


class OutboxPublisher:
    """Copies the ledger's outboxes to Kafka topics, in order, at least once."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.outboxes: list[Outbox] = [
            LedgerEvents(ledger, settings.topic_events),
            DeadLetters(ledger, settings.topic_rejected),
        ]
        self.producer: KafkaProducer | None = None
        self.published = 0
        self.skipped = 0
        self.health = Health("publish")
        self.metrics = OutboxMetrics()
        self.metrics.stuck.set_function(lambda: 1 if self.health.stuck_on else 0)

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
                max_request_size=MAX_RECORD_BYTES,
            )
        return self.producer

    def position(self, topic: str | None = None) -> int:
        name = outbox_name(topic or self.settings.topic_events)
        return self.ledger.recorder.max_tracking_id(name) or 0  # type: ignore[attr-defined]

    def publish(self, topic: str, batch: Sequence[Outgoing]) -> None:
        """Send a batch, wait for every acknowledgement, then track the last position.

        A record the broker refuses for itself is skipped past and reported; any other
        failure raises, and nothing of the batch is tracked (it is sent again)."""
        producer = self._producer()
        sent: list[tuple[Outgoing, object]] = []
        skipped: list[tuple[Outgoing, str]] = []
        for item in batch:
            try:
                sent.append(
                    (
                        item,
                        producer.send(topic, key=item.key, value=item.value, headers=item.headers),
                    )
                )
            except KafkaError as exc:
                if not _record_level(exc):
                    raise
                skipped.append((item, _describe(exc)))
        producer.flush(timeout=30)
        for item, future in sent:
            try:
                future.get(timeout=30)  # type: ignore[attr-defined]
            except KafkaError as exc:
                if not _record_level(exc):
                    raise
                skipped.append((item, _describe(exc)))
        for item, why in sorted(skipped, key=lambda s: s[0].position):
            self._skip(topic, item.position, why)
        self.ledger.recorder.insert_tracking(  # type: ignore[attr-defined]
            Tracking(outbox_name(topic), batch[-1].position)
        )
        self.published += len(batch) - len(skipped)
        self.metrics.published.labels(topic).inc(len(batch) - len(skipped))
        self.metrics.position.labels(topic).set(batch[-1].position)

    def _skip(self, topic: str, position: int, why: str) -> None:
        log.error("cannot publish position %d to %s, skipped past it: %s", position, topic, why)
        self.ledger.ledger_recorder.record_skipped(topic, position, why)
        self.skipped += 1
        self.metrics.skipped.labels(topic).inc()

    def run_once(self) -> float:
        """Publish what is durable but not yet published; seconds to idle after."""
        sent = 0
        for outbox in self.outboxes:
            batch = outbox.fetch(self.position(outbox.topic), BATCH)
            if batch:
                self.publish(outbox.topic, batch)
                sent += len(batch)
        self.health.progressed()
        return 0.0 if sent else IDLE_SECONDS

    def run(self, stop: threading.Event) -> None:
        """Publish while this process leads (one active publisher at a time; others
        wait as hot standbys), until ``stop`` is set."""
        leadership = Leadership(self.settings.database_url, PUBLISHER_LOCK_KEY, "outbox publisher")

        def step() -> float:
            if not leadership.held():
                self.health.progressed()  # a standby is waiting, not stalled
                return STANDBY_SECONDS
            return self.run_once()

        def failed(_: BaseException) -> None:
            self.metrics.transient_failures.inc()
            self.close_producer()
            leadership.lost()  # a broken database connection took the lock with it

        log.info("publishing to %s", ", ".join(o.topic for o in self.outboxes))
        loop = RetryLoop(
            "outbox publisher",
            (KafkaError, *DATABASE_AWAY),
            self.health,
            on_failure=failed,
        )
        try:
            loop.run(step, stop)
        finally:
            self.close_producer()
            leadership.release()

    def close_producer(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except KafkaError as exc:
                log.debug("closing a failed producer: %s", exc)
            self.producer = None


def _describe(exc: KafkaError) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
