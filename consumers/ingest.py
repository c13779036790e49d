"""The ingest worker: a consumer-group member that hands its records to the write path.

For each poll (up to ``LEDGER_INGEST_BATCH`` records, from any of the worker's
partitions) it only translates: every record becomes an
:class:`~ledger.incoming.Incoming` naming its topic's incarnation, partition and
offset; the write path assesses them (accept or refuse) and records the events, the
refusals and each partition's last offset in ONE ledger transaction; only then are the
Kafka offsets committed. The next poll is assessed while the previous one is recorded.
On assignment the worker resumes from the positions the ledger tracked for the topic's
current incarnation, so a crash anywhere replays at most what was not yet durable, and
a topic created anew (its offsets start at 0 again) is read from its beginning.

Failures are retried by :class:`~ledger.retry.RetryLoop`: a poll that cannot be
recorded is rewound and tried again with back-off, and after a few failures in a row
the worker says it is stuck (log, metric, health report) until it recovers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.metrics import IngestMetrics
from ledger.health import Health
from ledger.incoming import Incoming, KafkaPosition, Outcome, Status
from ledger.retry import RetryLoop
from ledger.settings import Settings
from ledger.writing import AlreadyRecorded, Assessed, Unavailable, WritePath

log = logging.getLogger("ledger.ingest")

# Failures that pass: the database or the broker is briefly unavailable.
TRANSIENT = (Unavailable, KafkaError)

Polled = dict[TopicPartition, list[ConsumerRecord]]


@dataclass
class IngestStats:
    accepted: int = 0
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    last_commit: float = 0.0  # time.time() of the last poll made durable


@dataclass
class _PollBatch:
    """One poll on its way into the ledger."""

    polled: Polled
    started: float
    assessed: Assessed
    highwater: dict[TopicPartition, int | None] = field(default_factory=dict)
    outcomes: list[Outcome] | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class _Writer:
    """The thread that records polls, one at a time, while the next is assessed."""

    def __init__(self, record: Callable[[_PollBatch], list[Outcome]]) -> None:
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
                batch.outcomes = self._record(batch)
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
        except TRANSIENT as exc:  # rewound; the next owner reads the ledger's positions
            log.warning("the poll in flight at a rebalance failed: %s", exc)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))
        self.worker.seek_to_tracked(assigned)


class IngestWorker:
    """Consumes ``ledger.submissions`` into the ledger, exactly once per record."""

    def __init__(self, settings: Settings, write_path: WritePath) -> None:
        self.settings = settings
        self.write_path = write_path
        self.stats = IngestStats()
        self.metrics = IngestMetrics()
        self.topic = settings.topic_submissions
        self.incarnation: str | None = None
        self.health = Health("ingest")
        self.metrics.stuck.set_function(lambda: 1 if self.health.stuck_on else 0)
        self._lag: dict[TopicPartition, int] = {}
        self._recovering = False
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

    def topic_incarnation(self) -> str:
        """The incarnation of the submissions topic, as the broker names it now."""
        admin = KafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap, client_id="ledger-ingest-topics"
        )
        try:
            (described,) = admin.describe_topics([self.topic])
        finally:
            admin.close()
        return self.write_path.incarnation(self.topic, described.get("topic_id"))

    def seek_to_tracked(self, partitions: Sequence[TopicPartition]) -> None:
        """Position each partition just after the last offset the ledger recorded for the
        topic's current incarnation (from its beginning when there is none)."""
        incarnation = self.topic_incarnation()
        if incarnation != self.incarnation:
            log.info("%s is incarnation %s", self.topic, incarnation)
            self.incarnation = incarnation
        resume = self.write_path.next_offsets(self.topic, incarnation)
        for tp in partitions:
            offset = resume.get(tp.partition)
            if offset is not None:
                self.consumer.seek(tp, offset)
            else:
                self.consumer.seek_to_beginning(tp)

    def run(self, stop: threading.Event) -> None:
        self.consumer.subscribe([self.topic], listener=_ResumeFromLedger(self))
        log.info("ingest worker consuming %s as group %s", self.topic, self.settings.ingest_group)
        self._writer.start()
        loop = RetryLoop("ingest", TRANSIENT, self.health, on_failure=self._failed)
        try:
            loop.run(lambda: self._process(self.consumer.poll(timeout_ms=500)), stop)
            self.drain()
        finally:
            self._writer.stop()
            self.close()

    def _failed(self, _: BaseException) -> None:
        self.metrics.transient_failures.inc()
        # Until a poll is recorded again, each is recorded before the next is taken, so
        # a failure is met in the step that caused it and the back-off grows.
        self._recovering = True

    def _process(self, polled: Polled) -> float:
        """Assess one poll while the previous one is being written, then hand it over.

        Two stages: this thread assesses poll N+1 (CPU: parsing, Ed25519, schema) while
        the writer thread records poll N in one ledger transaction (mostly waiting on
        PostgreSQL). At most one poll is in flight; its Kafka offsets are committed here
        once it is durable. A poll that changes the key registry is a barrier: nothing
        more is assessed until it is recorded.
        """
        polled = {tp: records for tp, records in polled.items() if records}
        if not polled:
            self.drain()  # nothing new: finish what is in flight
            return 0.0
        in_flight = self._in_flight
        if in_flight is not None and in_flight.assessed.changes_registry:
            if not self._finish(in_flight, also=polled):
                return 0.0
            in_flight = None
        try:
            batch = self._assess(polled)
        except Exception:
            # This poll is taken from the consumer but not written: rewind it too (with
            # the poll in flight, if that failed as well), whatever went wrong.
            if in_flight is None or self._finish(in_flight, also=polled):
                self._rewind([polled], to_tracked=False)
            raise
        if in_flight is not None and not self._finish(in_flight, also=polled):
            return 0.0
        self._in_flight = batch
        self._writer.submit(batch)
        if self._recovering:
            self.drain()
        return 0.0

    def drain(self) -> None:
        """Wait for the poll in flight, if any, and commit its offsets."""
        if self._in_flight is not None:
            self._finish(self._in_flight)

    def _finish(self, batch: _PollBatch, also: Polled | None = None) -> bool:
        """Wait until ``batch`` is recorded and commit its offsets. On failure, rewind it
        and ``also`` (a poll taken from the consumer, not yet written): re-raise a
        transient failure; when it was already recorded, return False (``also`` is
        dropped: it is read again from the tracked positions)."""
        self._in_flight = None
        batch.done.wait()
        pending = [batch.polled, also or {}]
        if isinstance(batch.error, AlreadyRecorded):
            # Another member got there first (a rebalance race), or our own commit
            # succeeded but its acknowledgement was lost. Resume after it.
            log.info("partitions %s already recorded; resuming", sorted(batch.polled))
            self._rewind(pending, to_tracked=True)
            return False
        if batch.error is not None:
            # The consumer's position is already past what we polled; rewind every
            # partition to its first record not yet durable, or those records are lost.
            self._rewind(pending, to_tracked=False)
            if isinstance(batch.error, TRANSIENT):
                raise batch.error
            raise Unavailable(f"recording a poll failed: {batch.error!r}") from batch.error
        # Durable now (dead letters are published from the stored refusals).
        self._commit_offsets({tp: records[-1].offset + 1 for tp, records in batch.polled.items()})
        self.stats.last_commit = time.time()
        self.health.progressed(backlog=sum(self._lag.values()))
        self._recovering = False
        return True

    def _rewind(self, polls: list[Polled], *, to_tracked: bool) -> None:
        """Seek every partition of ``polls`` back to its first record not yet durable:
        the position the ledger tracked (``to_tracked``, after a conflict), else the
        first record polled; a partition with no tracked position starts at the latter."""
        first: dict[TopicPartition, int] = {}
        for poll in polls:
            for tp, records in poll.items():
                first[tp] = min(first.get(tp, records[0].offset), records[0].offset)
        resume = self.write_path.next_offsets(self.topic, self._incarnation()) if to_tracked else {}
        for tp, offset in first.items():
            self.consumer.seek(tp, resume.get(tp.partition, offset))

    def _incarnation(self) -> str:
        if self.incarnation is None:
            self.incarnation = self.topic_incarnation()
        return self.incarnation

    def _assess(self, polled: Polled) -> _PollBatch:
        started = time.perf_counter()
        incarnation = self._incarnation()
        items = [
            Incoming(
                record.value or b"",
                KafkaPosition(tp.topic, incarnation, tp.partition, record.offset),
            )
            for tp, records in polled.items()
            for record in records
        ]
        batch = _PollBatch(polled, started, self.write_path.assess(items))
        # The consumer is not thread-safe: the writer reports lag from this snapshot.
        batch.highwater = {tp: self.consumer.highwater(tp) for tp in polled}
        return batch

    def _record(self, batch: _PollBatch) -> list[Outcome]:
        """The writer thread's work: one ledger transaction for the whole poll, then
        the stats and metrics (so they are current as soon as it is durable)."""
        outcomes = self.write_path.record(batch.assessed)
        appended = duplicates = 0
        for outcome in outcomes:
            if outcome.status is Status.RECORDED:
                appended += 1
            elif outcome.status is Status.DUPLICATE:
                duplicates += 1
            elif outcome.refusal is not None:
                reason = str(outcome.refusal.reason)
                self.stats.refused[reason] = self.stats.refused.get(reason, 0) + 1
                self.metrics.refused.labels(reason).inc()
        self.stats.accepted += appended
        self.stats.duplicates += duplicates
        self.stats.batches += 1
        self.metrics.appended.inc(appended)
        self.metrics.duplicates.inc(duplicates)
        self.metrics.batch_seconds.observe(time.perf_counter() - batch.started)
        for tp, records in batch.polled.items():
            highwater = batch.highwater.get(tp)
            if highwater is not None:
                lag = highwater - records[-1].offset - 1
                self._lag[tp] = lag
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)
        log.debug(
            "partitions %s: %d appended, %d duplicates, %d refused, %.1f ms",
            sorted(tp.partition for tp in batch.polled),
            appended,
            duplicates,
            len(outcomes) - appended - duplicates,
            (time.perf_counter() - batch.started) * 1000,
        )
        return outcomes

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

    def close(self) -> None:
        self.consumer.close(autocommit=False)
