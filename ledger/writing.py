"""The one write path: every submission, from any channel, ends as an event or a refusal.

Entry points only translate: the Kafka ingest worker and ``POST /v1/events`` hand
:class:`~ledger.incoming.Incoming` values to :meth:`WritePath.submit` (or its two
stages, :meth:`WritePath.assess` then :meth:`WritePath.record`, which the worker runs
in two threads) and get one :class:`~ledger.incoming.Outcome` per item.

What no input can do here: stop the process or wedge the batch it came in. The intake
refuses with a stable reason whatever the bytes are (size, depth, encoding); a fault of
the ledger's own while assessing one item refuses that item (``unprocessable``, kept
sealed so it can be sent again) instead of raising; a batch the database will not take
is recorded again one submission at a time, so one poisonous submission is refused and
the rest recorded. What is left to raise is :class:`Unavailable`: nothing was recorded,
and the same items may be tried again (the retry loop reports when that goes on).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    Tracking,
)

from ledger.application import KEY_EVENT_TYPES, Ledger
from ledger.catalogue import Submission
from ledger.faults import describe
from ledger.incoming import (
    HttpRequest,
    Incoming,
    KafkaPosition,
    Outcome,
    Status,
)
from ledger.intake import Intake
from ledger.keyring import Keyring
from ledger.persistence import legacy_stream_name
from ledger.positions import stream_name
from ledger.recording import BatchOutcome
from ledger.refusals import (
    MAX_DETAIL_CHARS,
    MAX_POINTER_CHARS,
    Reason,
    Refusal,
    RefusalRecord,
    printable,
    received_now,
)
from ledger.settings import Settings

log = logging.getLogger("ledger.write")

# The database or its connection is away: nothing was recorded, try again later.
TRANSIENT = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
# Another writer recorded what a batch builds on at the same moment (a resend, or an
# event of the same aggregate): the batch is applied again on what is there now.
CONFLICTS = (IntegrityError, psycopg.IntegrityError)
# The database refuses a value it was given: one submission's fault.
DATA_FAULTS = (DataError, psycopg.DataError)
# The database refuses everything (a table missing, a privilege revoked...), not one
# submission: nothing is refused for it; the batch waits, and the retry loop reports it.
DATABASE_FAULTS = (PersistenceError, psycopg.Error)
RACE_ATTEMPTS = 3
# Kafka's "no topic id" (a broker from before topic ids): then the ledger's epoch.
_NO_TOPIC_ID = frozenset({"", "00000000-0000-0000-0000-000000000000", "AAAAAAAAAAAAAAAAAAAAAA"})


UNASSESSABLE = Refusal(Reason.UNPROCESSABLE, "the ledger could not assess this event; it is kept")
UNRECORDABLE = Refusal(Reason.UNPROCESSABLE, "the ledger could not record this event; it is kept")


class Unavailable(Exception):
    """Nothing of the batch was recorded (the database is away, or would not take even
    the batch's refusals); the same items may be tried again."""


class AlreadyRecorded(Exception):
    """Every Kafka position of the batch is already tracked: another worker (after a
    rebalance) or an earlier attempt whose answer was lost recorded it."""


@dataclass
class Assessed:
    """A batch after the intake, before it is recorded."""

    items: Sequence[Incoming]
    submissions: list[Submission] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)  # the item index of each submission
    refusals: dict[int, RefusalRecord] = field(default_factory=dict)  # by item index
    trackings: list[Tracking] = field(default_factory=list)
    # Carries key registrations, rotations or revocations: record it before assessing
    # more, so later events are judged against the registry it changes.
    changes_registry: bool = False


class WritePath:
    """Assesses and records submissions; one instance per process."""

    def __init__(self, ledger: Ledger, intake: Intake) -> None:
        self.ledger = ledger
        self.intake = intake
        self.keyring: Keyring = intake.keyring

    @classmethod
    def from_settings(cls, settings: Settings) -> WritePath:
        """The write path, connected as the writer (``LEDGER_WRITER_DATABASE_URL`` when
        set: the API reads under its own role and writes under the writer's)."""
        if settings.writer_database_url:
            settings = dataclasses.replace(settings, database_url=settings.writer_database_url)
        ledger = Ledger.from_settings(settings)
        return cls(ledger, Intake.from_settings(ledger, settings))

    def close(self) -> None:
        self.ledger.close()

    def submit(self, items: Sequence[Incoming]) -> list[Outcome]:
        """Assess and record ``items``; the outcome of each, in order."""
        return self.record(self.assess(items))

    # Stage one: the intake (CPU; reads only the key registry).

    def assess(self, items: Sequence[Incoming]) -> Assessed:
        # A rotation or revocation another process committed takes effect from this
        # batch, not a second later (reads only key events recorded since).
        try:
            self.ledger.refresh_registry()
        except TRANSIENT as exc:
            raise Unavailable(f"the key registry could not be read: {exc}") from exc
        assessed = Assessed(items)
        last: dict[tuple[str, str, int], int] = {}  # (topic, incarnation, partition)
        for index, item in enumerate(items):
            origin = item.origin
            if type(origin) is KafkaPosition:
                where = (origin.topic, origin.incarnation, origin.partition)
                if origin.offset > last.get(where, -1):
                    last[where] = origin.offset
            try:
                submission = self.intake.assess(
                    item.raw,
                    size=item.size,
                    caller_organisation=(
                        origin.organisation if isinstance(origin, HttpRequest) else None
                    ),
                )
            except Refusal as refusal:
                assessed.refusals[index] = self.refusal_record(refusal, item)
                continue
            except TRANSIENT as exc:
                raise Unavailable(f"the key registry could not be read: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - a fault of ours must not stop the batch
                log.error("the intake failed on a submission (%s): %s", item.channel, describe(exc))
                assessed.refusals[index] = self.refusal_record(UNASSESSABLE, item)
                continue
            assessed.submissions.append(submission)
            assessed.accepted.append(index)
            if submission.retires or submission.event_type in KEY_EVENT_TYPES:
                assessed.changes_registry = True
        assessed.trackings = [
            Tracking(stream_name(*where), offset) for where, offset in last.items()
        ]
        return assessed

    def refusal_record(self, refusal: Refusal, item: Incoming) -> RefusalRecord:
        """What the ledger keeps of a refused item: bounded, sealed, with its origin."""
        kept = RefusalRecord.kept_part(item.raw, refusal.reason)
        size = len(item.raw) if item.size is None else item.size
        return self._record_of(
            refusal,
            item,
            hashlib.sha256(kept).hexdigest(),
            size,
            len(kept) < size,
            self.keyring.seal(kept),
        )

    def _record_of(
        self,
        refusal: Refusal,
        item: Incoming,
        sha256: str,
        size: int,
        truncated: bool,
        sealed: bytes,
    ) -> RefusalRecord:
        origin = item.origin
        kafka = origin if isinstance(origin, KafkaPosition) else None
        http = origin if isinstance(origin, HttpRequest) else None
        return RefusalRecord(
            reason=str(refusal.reason),
            detail=printable(refusal.detail, MAX_DETAIL_CHARS),
            pointer=printable(refusal.pointer, MAX_POINTER_CHARS),
            received_at=received_now(),
            received_sha256=sha256,
            received_size=size,
            truncated=truncated,
            kept_sealed=sealed,
            channel=item.channel,
            topic=kafka.topic if kafka else None,
            incarnation=kafka.incarnation if kafka else None,
            partition=kafka.partition if kafka else None,
            offset=kafka.offset if kafka else None,
            request_id=http.request_id if http else None,
            caller=http.who if http else None,
        )

    def _refused_at_record(
        self, assessed: Assessed, number: int, refusal: Refusal
    ) -> RefusalRecord:
        """A refusal found while recording (an invariant, a conflicting resend): the
        submission was assessed whole, so its sealed bytes are kept as they are."""
        submission = assessed.submissions[number]
        item = assessed.items[assessed.accepted[number]]
        return self._record_of(
            refusal, item, submission.raw_sha256, len(item.raw), False, submission.raw_sealed
        )

    # Stage two: one transaction for the batch (the database).

    def record(self, assessed: Assessed) -> list[Outcome]:
        """Record the assessed batch, its refusals and its Kafka positions atomically.

        Raises :class:`Unavailable` (nothing recorded) or :class:`AlreadyRecorded`."""
        for _ in range(RACE_ATTEMPTS):
            try:
                outcome = self.ledger.record_batch(
                    assessed.submissions,
                    list(assessed.refusals.values()),
                    assessed.trackings,
                    refusal_for=lambda n, refusal: self._refused_at_record(assessed, n, refusal),
                )
            except CONFLICTS:
                if assessed.trackings and self._already_recorded(assessed):
                    raise AlreadyRecorded from None
                continue
            except Exception as exc:  # noqa: BLE001 - sorted: the database, or one submission
                _raise_unless_one_submissions_fault(exc)
                log.error(
                    "a batch of %d could not be recorded (%s); one at a time",
                    len(assessed.items),
                    describe(exc),
                )
                break
            return self._outcomes(assessed, outcome, assessed.refusals)
        return self._record_one_by_one(assessed)

    def _already_recorded(self, assessed: Assessed) -> bool:
        tracked = self.ledger.ledger_recorder.positions("kafka:")
        return all(
            tracked.get(t.application_name, -1) >= t.notification_id for t in assessed.trackings
        )

    def _record_one_by_one(self, assessed: Assessed) -> list[Outcome]:
        """Record each submission in a transaction of its own; one whose values the
        database will not take is refused (``unprocessable``). The batch's refusals and
        Kafka positions go last: a crash before them replays the batch, and what was
        recorded is then a duplicate of itself."""
        combined = BatchOutcome()
        refusals = dict(assessed.refusals)
        for number, submission in enumerate(assessed.submissions):
            single = self._record_alone(assessed, number, submission)
            if single is None:
                refusals[assessed.accepted[number]] = self._refused_at_record(
                    assessed, number, UNRECORDABLE
                )
                continue
            if 0 in single.positions:
                combined.positions[number] = single.positions[0]
            if 0 in single.duplicates:
                combined.duplicates.append(number)
            if 0 in single.refused:
                combined.refused[number] = single.refused[0]
        late = [r for i, r in refusals.items() if i not in assessed.refusals]
        try:
            self.ledger.record_batch([], [*assessed.refusals.values(), *late], assessed.trackings)
        except CONFLICTS:
            if assessed.trackings and self._already_recorded(assessed):
                raise AlreadyRecorded from None
            raise Unavailable("the batch's positions conflict with the ledger's") from None
        except Exception as exc:  # reported by the caller's retry loop
            _raise_unless_one_submissions_fault(exc)
            fault = describe(exc)
            log.error("the refusals and positions of a batch could not be recorded: %s", fault)
            raise Unavailable(f"the batch's refusals could not be recorded: {fault}") from exc
        return self._outcomes(assessed, combined, refusals)

    def _record_alone(
        self, assessed: Assessed, number: int, submission: Submission
    ) -> BatchOutcome | None:
        for _ in range(RACE_ATTEMPTS):
            try:
                return self.ledger.record_batch(
                    [submission],
                    refusal_for=lambda _, refusal: self._refused_at_record(
                        assessed, number, refusal
                    ),
                )
            except CONFLICTS:
                continue
            except Exception as exc:  # noqa: BLE001 - this one is refused, the rest go on
                _raise_unless_one_submissions_fault(exc)
                log.error("a submission could not be recorded (%s); refused, kept", describe(exc))
                return None
        return None

    @staticmethod
    def _outcomes(
        assessed: Assessed, outcome: BatchOutcome, refusals: dict[int, RefusalRecord]
    ) -> list[Outcome]:
        result: list[Outcome | None] = [None] * len(assessed.items)
        duplicates = set(outcome.duplicates)
        for number, submission in enumerate(assessed.submissions):
            index = assessed.accepted[number]
            if number in outcome.refused:
                row = outcome.refused[number]
                status, refusal = Status.REFUSED, _refusal_of(row)
            elif index in refusals:
                status, refusal = Status.REFUSED, _refusal_of(refusals[index])
            else:
                status = Status.DUPLICATE if number in duplicates else Status.RECORDED
                refusal = None
            result[index] = Outcome(
                status,
                outcome.positions.get(number),
                submission.source,
                submission.event_id,
                refusal,
            )
        for index, row in refusals.items():
            if result[index] is None:
                result[index] = Outcome(Status.REFUSED, refusal=_refusal_of(row))
        return [r if r is not None else Outcome(Status.REFUSED) for r in result]

    # Kafka positions.

    def incarnation(self, topic: str, topic_id: str | None) -> str:
        """The name of the topic's current life: its topic id when the broker has one,
        else the epoch the ledger recorded when it created the topic."""
        if topic_id is not None and str(topic_id) not in _NO_TOPIC_ID:
            return str(topic_id)
        return f"epoch-{self.ledger.ledger_recorder.topic_epoch(topic)}"

    def next_offsets(self, topic: str, incarnation: str) -> dict[int, int]:
        """Where each partition of this incarnation resumes: after its tracked offset."""
        prefix = stream_name(topic, incarnation, 0)[:-1]
        tracked = self.ledger.ledger_recorder.positions(prefix)
        return {int(name[len(prefix) :]): offset + 1 for name, offset in tracked.items()}

    def topic_created(self, topic: str) -> None:
        """A topic was created (anew): move its epoch on, so that, on a broker without
        topic ids, its offsets are not taken for the old topic's."""
        self.ledger.ledger_recorder.topic_epoch(topic, advance=True)

    def adopt_legacy_positions(
        self, topic: str, incarnation: str, partitions: int, *, created: bool
    ) -> int:
        """Positions tracked before incarnations (``kafka:<topic>:<partition>``): the
        current incarnation's when the topic was not created just now, else forgotten
        (a topic created anew starts at offset 0). How many there were."""
        recorder = self.ledger.ledger_recorder
        if created:
            return recorder.forget_positions(legacy_stream_name(topic, 0)[:-1])
        renames = {
            legacy_stream_name(topic, p): stream_name(topic, incarnation, p)
            for p in range(partitions)
        }
        return recorder.rename_positions(renames)


def _raise_unless_one_submissions_fault(exc: Exception) -> None:
    """Raise :class:`Unavailable` for a fault of the database (away, or refusing
    everything); return for one that a submission's content can cause (a value the
    database refuses, or a fault of the ledger's own code on that input)."""
    if isinstance(exc, TRANSIENT):
        raise Unavailable(f"the ledger's database is unavailable: {exc}") from exc
    if isinstance(exc, DATABASE_FAULTS) and not isinstance(exc, DATA_FAULTS):
        # Its message may quote what it refused: named by kind and place only.
        raise Unavailable(f"the ledger's database refuses to record: {describe(exc)}") from exc


def _refusal_of(row: RefusalRecord) -> Refusal:
    return Refusal(Reason(row.reason), row.detail, row.pointer)
