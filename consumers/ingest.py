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
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psycopg
from eventsourcing.persistence import IntegrityError, OperationalError, Tracking
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.metrics import IngestMetrics
from ledger.application import Ledger
from ledger.catalogue import (
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    SERVICE_REGISTERED,
    Submission,
)
from ledger.intake import Intake
from ledger.persistence import RefusalRow, kafka_tracking_name
from ledger.recording import BatchOutcome
from ledger.refusals import Refusal
from ledger.settings import Settings

log = logging.getLogger("ledger.ingest")

# Failures that pass: the database or the broker is briefly unavailable.
TRANSIENT = (OperationalError, psycopg.OperationalError, psycopg.InterfaceError, KafkaError)
# Submissions that change the key registry: a poll carrying one is recorded before the
# next is assessed, so later events are judged against it.
KEY_EVENT_TYPES = frozenset({SERVICE_REGISTERED, KEY_REGISTERED, KEY_ROTATED, KEY_REVOKED})


@dataclass
class IngestStats:
    accepted: int = 0
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    batches: int = 0


@dataclass
class _PollBatch:
    """One poll on its way into the ledger."""

    polled: dict[TopicPartition, list[ConsumerRecord]]
    started: float
    submissions: list[Submission] = field(default_factory=list)
    accepted_from: list[tuple[TopicPartition, ConsumerRecord]] = field(default_factory=list)
    refusals: list[RefusalRow] = field(default_factory=list)
    trackings: list[Tracking] = field(default_factory=list)
    barrier: bool = False  # carries key events: record it before assessing more
    highwater: dict[TopicPartition, int | None] = field(default_factory=dict)
    outcome: BatchOutcome | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class _Writer:
    """The thread that records polls, one at a time, while the next is assessed."""

    def __init__(self, record: Callable[[_PollBatch], BatchOutcome]) -> None:
        self._record = record
        self._queue: queue.SimpleQueue[_PollBatch | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="ingest-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, batch: _PollBatch) -> None:
        self._queue.put(batch)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                batch.outcome = self._record(batch)
            except BaseException as exc:  # noqa: BLE001 - the consumer thread decides
                batch.error = exc
            finally:
                batch.done.set()


def _log_commit_failure(offsets: object, response: object) -> None:
    if isinstance(response, Exception):
        log.info("Kafka offset commit failed (tracked in PostgreSQL): %s", response)


class _ResumeFromLedger(ConsumerRebalanceListener):
    def __init__(self, worker: IngestWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))
        # Finish the poll in flight, so the next owner resumes after it.
        try:
            self.worker.drain()
        except Exception as exc:  # noqa: BLE001 - rewound; the next owner reads PostgreSQL
            log.warning("the poll in flight at a rebalance failed: %s", exc)

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
        self._in_flight: _PollBatch | None = None
        self._writer = _Writer(self._record)
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
        self._writer.start()
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
            self.drain()
        finally:
            self._writer.stop()
            self.close()

    def _process(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Assess one poll while the previous one is being written, then hand it over.

        Two stages: this thread assesses poll N+1 (CPU: parsing, Ed25519, schema) while
        the writer thread records poll N in one ledger transaction (mostly waiting on
        PostgreSQL). At most one poll is in flight; its Kafka offsets are committed here
        once it is durable. A poll that carries key events is a barrier: nothing more is
        assessed until it is recorded and the key registry re-read.
        """
        polled = {tp: records for tp, records in polled.items() if records}
        if not polled:
            self.drain()  # nothing new: finish what is in flight
            return
        in_flight = self._in_flight
        if in_flight is not None and in_flight.barrier:
            if not self._finish(in_flight, also=polled):
                return
            in_flight = None
        try:
            # A rotation or revocation another worker committed takes effect from our
            # next batch, not a second later (reads only key events recorded since).
            self.ledger.refresh_registry()
            batch = self._assess(polled)
        except TRANSIENT:
            # This poll is taken from the consumer but not written: rewind it too (with
            # the poll in flight, if that failed as well).
            if in_flight is None or self._finish(in_flight, also=polled):
                self._rewind([polled], to_tracked=False)
            raise
        if in_flight is not None and not self._finish(in_flight, also=polled):
            return
        self._in_flight = batch
        self._writer.submit(batch)

    def drain(self) -> None:
        """Wait for the poll in flight, if any, and commit its offsets."""
        if self._in_flight is not None:
            self._finish(self._in_flight)

    def _finish(
        self, batch: _PollBatch, also: dict[TopicPartition, list[ConsumerRecord]] | None = None
    ) -> bool:
        """Wait until ``batch`` is recorded and commit its offsets. On failure, rewind it
        and ``also`` (a poll taken from the consumer, not yet written): re-raise a
        transient failure; after a conflict, return False (``also`` is dropped)."""
        self._in_flight = None
        batch.done.wait()
        pending = [batch.polled, also or {}]
        if isinstance(batch.error, IntegrityError):
            # Already recorded: another member got there first (a rebalance race), or
            # our own commit succeeded but its acknowledgement was lost. Resume after it.
            log.info("partitions %s already recorded; resuming", sorted(batch.polled))
            self._rewind(pending, to_tracked=True)
            return False
        if batch.error is not None:
            # The consumer's position is already past what we polled; rewind every
            # partition to its first record not yet durable, or those records are lost.
            self._rewind(pending, to_tracked=False)
            raise batch.error
        # Durable now (dead letters are published from the stored refusals by the relay).
        self._commit_offsets({tp: records[-1].offset + 1 for tp, records in batch.polled.items()})
        return True

    def _rewind(
        self, polls: list[dict[TopicPartition, list[ConsumerRecord]]], *, to_tracked: bool
    ) -> None:
        """Seek every partition of ``polls`` back to its first record not yet durable:
        the position tracked in PostgreSQL (``to_tracked``, after a conflict), else the
        first record polled; a partition with no tracked position starts at the latter."""
        first: dict[TopicPartition, int] = {}
        for poll in polls:
            for tp, records in poll.items():
                first[tp] = min(first.get(tp, records[0].offset), records[0].offset)
        tracked = (
            self.ledger.ledger_recorder.positions(f"kafka:{self.topic}:") if to_tracked else {}
        )
        for tp, offset in first.items():
            position = tracked.get(kafka_tracking_name(tp.topic, tp.partition))
            self.consumer.seek(tp, offset if position is None else position + 1)

    def _assess(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> _PollBatch:
        started = time.perf_counter()
        batch = _PollBatch(polled, started)
        for tp, records in polled.items():
            for record in records:
                try:
                    submission = self.intake.assess(record.value or b"")
                except Refusal as refusal:
                    batch.refusals.append(self._refusal_row(refusal, tp, record))
                    continue
                batch.submissions.append(submission)
                batch.accepted_from.append((tp, record))
                if submission.retires or submission.event_type in KEY_EVENT_TYPES:
                    batch.barrier = True
        batch.trackings = [
            Tracking(kafka_tracking_name(tp.topic, tp.partition), records[-1].offset)
            for tp, records in polled.items()
        ]
        # The consumer is not thread-safe: the writer reports lag from this snapshot.
        batch.highwater = {tp: self.consumer.highwater(tp) for tp in polled}
        return batch

    def _record(self, batch: _PollBatch) -> BatchOutcome:
        """The writer thread's work: one ledger transaction for the whole poll, then
        the stats and metrics (so they are current as soon as it is durable)."""
        # Invariants are checked as the ledger applies the batch; what breaks one is
        # refused there, and stored with the Kafka position it came from.
        outcome = self.ledger.record_batch(
            batch.submissions,
            batch.refusals,
            batch.trackings,
            refusal_for=lambda i, refusal: self._refusal_row(refusal, *batch.accepted_from[i]),
        )
        refusals = [*batch.refusals, *outcome.refused.values()]
        self.stats.accepted += len(outcome.appended)
        self.stats.duplicates += len(outcome.duplicates)
        for row in refusals:
            self.stats.refused[row.reason] = self.stats.refused.get(row.reason, 0) + 1
        self.stats.batches += 1
        self._observe(batch, outcome, refusals)
        log.debug(
            "partitions %s: %d appended, %d refused, %.1f ms",
            sorted(tp.partition for tp in batch.polled),
            len(outcome.appended),
            len(refusals),
            (time.perf_counter() - batch.started) * 1000,
        )
        return outcome

    def _observe(
        self, batch: _PollBatch, outcome: BatchOutcome, refusals: list[RefusalRow]
    ) -> None:
        self.metrics.appended.inc(len(outcome.appended))
        self.metrics.duplicates.inc(len(outcome.duplicates))
        for row in refusals:
            self.metrics.refused.labels(row.reason).inc()
        self.metrics.batch_seconds.observe(time.perf_counter() - batch.started)
        for tp, records in batch.polled.items():
            highwater = batch.highwater.get(tp)
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
