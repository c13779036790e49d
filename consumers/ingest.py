"""The ingest worker: a consumer-group member that appends submissions to the ledger.

For each poll (up to ``LEDGER_INGEST_BATCH`` records, from any of the worker's
partitions): assess every record (accept or refuse), then append the accepted events,
the refusals and each partition's last offset in ONE ledger transaction; only then
commit the Kafka offsets. (The relay publishes the stored
refusals to the dead-letter topic, so a broker outage cannot lose one.) On assignment
the worker resumes from the position tracked in PostgreSQL, so a crash anywhere replays
at most what was not yet durable, and a replayed record finds its position already
tracked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from eventsourcing.persistence import IntegrityError, OperationalError, Tracking
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.metrics import IngestMetrics
from ledger.application import Ledger
from ledger.catalogue import Submission
from ledger.intake import Intake
from ledger.persistence import RefusalRow, kafka_tracking_name
from ledger.recording import BatchOutcome
from ledger.refusals import Refusal
from ledger.settings import Settings

log = logging.getLogger("ledger.ingest")

# Failures that pass: the database or the broker is briefly unavailable.
TRANSIENT = (OperationalError, psycopg.OperationalError, psycopg.InterfaceError, KafkaError)


@dataclass
class IngestStats:
    accepted: int = 0
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    batches: int = 0


def _log_commit_failure(offsets: object, response: object) -> None:
    if isinstance(response, Exception):
        log.info("Kafka offset commit failed (tracked in PostgreSQL): %s", response)


class _ResumeFromLedger(ConsumerRebalanceListener):
    def __init__(self, worker: IngestWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))
        self.worker.seek_to_tracked(assigned)


class IngestWorker:
    """Consumes ``ledger.submissions`` into the ledger, exactly once per record."""

    def __init__(self, settings: Settings, ledger: Ledger, intake: Intake) -> None:
        self.settings = settings
        self.ledger = ledger
        self.intake = intake
        self.stats = IngestStats()
        self.metrics = IngestMetrics()
        self.topic = settings.topic_submissions
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.ingest_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_records=settings.ingest_batch,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
        )

    def seek_to_tracked(self, partitions: Sequence[TopicPartition]) -> None:
        """Position each partition just after the last offset the ledger recorded."""
        tracked = self.ledger.ledger_recorder.positions(f"kafka:{self.topic}:")
        for tp in partitions:
            offset = tracked.get(kafka_tracking_name(tp.topic, tp.partition))
            if offset is not None:
                self.consumer.seek(tp, offset + 1)

    def run(self, stop: threading.Event) -> None:
        self.consumer.subscribe([self.topic], listener=_ResumeFromLedger(self))
        log.info("ingest worker consuming %s as group %s", self.topic, self.settings.ingest_group)
        backoff = 0.1
        try:
            while not stop.is_set():
                try:
                    self._process(self.consumer.poll(timeout_ms=500))
                    backoff = 0.1
                except TRANSIENT as exc:
                    self.metrics.transient_failures.inc()
                    log.warning("transient failure, retrying in %.1f s: %s", backoff, exc)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            self.close()

    def _process(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Append one poll, every partition of it, in one ledger transaction."""
        polled = {tp: records for tp, records in polled.items() if records}
        if not polled:
            return
        try:
            self._append(polled)
        except IntegrityError:
            # Already recorded: another member got there first (a rebalance race), or
            # our own commit succeeded but its acknowledgement was lost. Resume after it.
            log.info("partitions %s already recorded; resuming", sorted(polled))
            self.seek_to_tracked(list(polled))
        except TRANSIENT:
            # The consumer's position is already past what we polled; rewind every
            # partition to its first record not yet durable, or those records are lost.
            for tp, records in polled.items():
                self.consumer.seek(tp, records[0].offset)
            raise

    def _append(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        started = time.perf_counter()
        # A rotation or revocation another worker committed takes effect from our next
        # batch, not a second later (reads only key events recorded since the last batch).
        self.ledger.refresh_registry()
        submissions: list[Submission] = []
        accepted_from: list[tuple[TopicPartition, ConsumerRecord]] = []
        refusals: list[RefusalRow] = []
        for tp, records in polled.items():
            for record in records:
                try:
                    submissions.append(self.intake.assess(record.value or b""))
                    accepted_from.append((tp, record))
                except Refusal as refusal:
                    refusals.append(self._refusal_row(refusal, tp, record))
        trackings = [
            Tracking(kafka_tracking_name(tp.topic, tp.partition), records[-1].offset)
            for tp, records in polled.items()
        ]
        # Invariants are checked as the ledger applies the batch; what breaks one is
        # refused there, and stored with the Kafka position it came from.
        outcome = self.ledger.record_batch(
            submissions,
            refusals,
            trackings,
            refusal_for=lambda i, refusal: self._refusal_row(refusal, *accepted_from[i]),
        )
        refusals = [*refusals, *outcome.refused.values()]
        # Durable now (dead letters are published from the stored refusals by the relay).
        self._commit_offsets({tp: records[-1].offset + 1 for tp, records in polled.items()})
        self._observe(polled, outcome, refusals, started)
        self.stats.accepted += len(outcome.appended)
        self.stats.duplicates += len(outcome.duplicates)
        for row in refusals:
            self.stats.refused[row.reason] = self.stats.refused.get(row.reason, 0) + 1
        self.stats.batches += 1
        log.debug(
            "partitions %s: %d appended, %d refused, %.1f ms",
            sorted(tp.partition for tp in polled),
            len(outcome.appended),
            len(refusals),
            (time.perf_counter() - started) * 1000,
        )

    def _observe(
        self,
        polled: dict[TopicPartition, list[ConsumerRecord]],
        outcome: BatchOutcome,
        refusals: list[RefusalRow],
        started: float,
    ) -> None:
        self.metrics.appended.inc(len(outcome.appended))
        self.metrics.duplicates.inc(len(outcome.duplicates))
        for row in refusals:
            self.metrics.refused.labels(row.reason).inc()
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        for tp, records in polled.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = highwater - records[-1].offset - 1
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)

    def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        # PostgreSQL is the source of truth for positions; Kafka's committed offset only
        # saves a rebalanced member some re-reading. So the commit is not waited for,
        # and a failed one is not an error.
        try:
            self.consumer.commit_async(
                {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()},
                callback=_log_commit_failure,
            )
        except KafkaError as exc:
            log.info("Kafka offset commit failed (tracked in PostgreSQL): %s", exc)

    def _refusal_row(
        self, refusal: Refusal, tp: TopicPartition, record: ConsumerRecord
    ) -> RefusalRow:
        return self.intake.refusal_row(
            refusal,
            record.value or b"",
            "kafka",
            topic=tp.topic,
            partition=tp.partition,
            offset=record.offset,
        )

    def close(self) -> None:
        self.consumer.close(autocommit=False)
