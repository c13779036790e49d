"""Applying a batch of submissions to the ledger's aggregates, in order.

Several submissions in one batch may change the same aggregate (a consent given then
withdrawn): each aggregate is loaded once and every change is applied, in order, to
that one in-memory object, so invariants see the earlier changes of the batch.

Idempotency is by (source, id), whatever the aggregate: a submission already recorded
(in an earlier batch, or earlier in this one) with the same content is a duplicate,
answered with its original position and recorded nothing; with other content it is
refused (``conflicting-resend``) and the ledger records a
:class:`~ledger.domain.anomaly.ResendConflict` fact naming the organisation. The
ledger's ``submissions`` table, written in the same transaction as the events, is the
durable guard; its primary key is the last word.

A batch is saved in as few transactions as the save-size cap allows; the source
positions (tracking) and refusals go with the last one. A crash between two of them
replays the batch, and the submissions already recorded are then duplicates.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent, Tracking

from ledger.catalogue import Change, Submission
from ledger.catalogue.entry import fact_change
from ledger.domain import InvariantViolated
from ledger.domain.anomaly import ResendConflict
from ledger.refusals import Reason, Refusal, RefusalRecord, received_now

# DESIGN.md's "Known defect" (saves over ~0.45 MB can hang) lives in eventsourcing's
# pipeline-mode insert; the ledger recorder appends with COPY and no pipeline, so these
# bounds only keep one transaction a reasonable size (an ingest worker's poll is at most
# 2,000 events, ~5 MB, in one transaction).
MAX_EVENTS_PER_SAVE = 2000
MAX_BYTES_PER_SAVE = 16_000_000
_EVENT_OVERHEAD = 600  # bytes of an event besides its sealed envelope, roughly

RefusalFor = Callable[[int, Refusal], RefusalRecord]
# A recorded submission: its ledger position and the SHA-256 of its content (None for
# submissions recorded before the ledger kept content digests).
Known = tuple[int, bytes | None]


# What a batch saves: aggregates with pending events, and facts already in stored form.
Entry = Aggregate | StoredEvent


class Store(Protocol):
    """What the batch needs of the application (the ledger)."""

    def get(self, aggregate_id: UUID) -> Aggregate: ...
    def save_batch(self, entries: Sequence[Entry], **kwargs: Any) -> dict[tuple[UUID, int], int]:
        """Record the entries in one transaction; position by (originator id, version)."""
        ...

    def submitted(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Known]: ...


@dataclass
class BatchOutcome:
    """What became of each submission of a batch, by its index in the batch."""

    positions: dict[int, int] = field(default_factory=dict)  # new or original position
    appended: list[int] = field(default_factory=list)  # positions newly appended
    duplicates: list[int] = field(default_factory=list)
    refused: dict[int, RefusalRecord] = field(default_factory=dict)


def _size(submission: Submission) -> int:
    """Roughly the bytes a submission's events take in a save."""
    return len(submission.changes) * (len(submission.raw_sealed) * 4 // 3 + _EVENT_OVERHEAD)


def _facts_in_one_save(submissions: Sequence[Submission]) -> bool:
    """Only facts, and few enough for one save: a resend can only be caught by the
    submissions' primary key (a stateful resend would break an invariant first)."""
    return (
        all(c.fact is not None for s in submissions for c in s.changes)
        and sum(len(s.changes) for s in submissions) <= MAX_EVENTS_PER_SAVE
        and sum(map(_size, submissions)) <= MAX_BYTES_PER_SAVE
    )


def _entry_id(entry: Entry) -> UUID:
    return cast(UUID, entry.originator_id) if isinstance(entry, StoredEvent) else entry.id


def direct_refusal(submission: Submission, refusal: Refusal) -> RefusalRecord:
    """The record of a refusal of an assessed submission handed over in-process."""
    return RefusalRecord(
        reason=str(refusal.reason),
        detail=refusal.detail,
        pointer=refusal.pointer,
        received_at=received_now(),
        received_sha256=submission.raw_sha256,
        received_size=None,
        truncated=False,
        kept_sealed=submission.raw_sealed,
        channel="direct",
    )


def _conflict(submission: Submission, where: str) -> tuple[Refusal, Change]:
    """The refusal of a resend that says something else, and the fact that records it."""
    refusal = Refusal(
        Reason.CONFLICTING_RESEND,
        f"an event with this source and id is already recorded ({where}) with other "
        "content; ids are unique per source",
        "/id",
    )
    fact = fact_change(
        ResendConflict,
        ResendConflict.Recorded,
        ResendConflict.create_id(),
        source=submission.source,
        event_id=submission.event_id,
        organisation=submission.organisation,
        conflicting_sha256=submission.content_sha256.hex(),
        received_at=received_now(),
        envelope_sha256=submission.raw_sha256,
        envelope_sealed=base64.b64encode(submission.raw_sealed).decode(),
    )
    return refusal, fact


@dataclass
class _Chunk:
    entries: dict[UUID, Entry] = field(default_factory=dict)
    # (index, submission, the aggregate and version of its first event)
    members: list[tuple[int, Submission, UUID, int]] = field(default_factory=list)
    events: int = 0
    size: int = 0


class Batch:
    """One batch of submissions, applied in order and saved."""

    def __init__(self, store: Store, refusal_for: RefusalFor, *, check_known: bool = True) -> None:
        """``check_known=False`` skips reading which submissions are already recorded
        when the batch is only facts and fits one transaction: the submissions table's
        primary key then refuses a resend (:class:`~ledger.persistence.DuplicateSubmission`)
        and the caller records the batch again with the check."""
        self.store = store
        self.refusal_for = refusal_for
        self.check_known = check_known
        self.loaded: dict[UUID, Aggregate | None] = {}
        self.outcome = BatchOutcome()

    def record(
        self,
        submissions: Sequence[Submission],
        refusals: Sequence[RefusalRecord],
        trackings: Sequence[Tracking],
    ) -> BatchOutcome:
        known = (
            self.store.submitted(list({s.key for s in submissions}))
            if self.check_known or not _facts_in_one_save(submissions)
            else {}
        )
        seen: dict[tuple[str, str], int] = {}  # key -> index of the first in this batch
        retired: dict[str, tuple[datetime, str]] = {}  # key id -> (from, refusal reason)
        conflicts: list[Change] = []
        chunk = _Chunk()
        for index, submission in enumerate(submissions):
            key = submission.key
            if key in known or key in seen:
                if key in known:
                    position, digest = known[key]
                    where = f"at ledger position {position}"
                else:
                    position, digest = None, submissions[seen[key]].content_sha256
                    where = "earlier in the same batch"
                if digest is not None and digest != submission.content_sha256:
                    refusal, fact = _conflict(submission, where)
                    self.outcome.refused[index] = self.refusal_for(index, refusal)
                    conflicts.append(fact)
                    continue
                self.outcome.duplicates.append(index)
                if position is not None:
                    self.outcome.positions[index] = position
                continue
            events, size = len(submission.changes), _size(submission)
            if chunk.members and (
                chunk.events + events > MAX_EVENTS_PER_SAVE
                or chunk.size + size > MAX_BYTES_PER_SAVE
            ):
                self._save(chunk)
                chunk = _Chunk()
            taken_out = retired.get(submission.signing_key)
            if taken_out is not None and submission.occurred_at >= taken_out[0]:
                # The registry the intake checked predates this batch's own rotation or
                # revocation of the key: judge the event as the next batch would.
                when, reason = taken_out
                detail = f"key {submission.signing_key} is out of use from {when.isoformat()}"
                self.outcome.refused[index] = self.refusal_for(
                    index, Refusal(Reason(reason), detail)
                )
                continue
            try:
                changed = self._apply(submission)
            except InvariantViolated as broken:
                refusal = Refusal(Reason.INVARIANT_VIOLATED, f"{broken.rule}: {broken.detail}")
                self.outcome.refused[index] = self.refusal_for(index, refusal)
                continue
            except Refusal as refusal:
                self.outcome.refused[index] = self.refusal_for(index, refusal)
                continue
            seen[key] = index
            for key_id, when, reason in submission.retires:
                retired[key_id] = (when, reason)
            for entry in changed:
                chunk.entries[_entry_id(entry)] = entry
            first = changed[0]
            chunk.members.append(
                (index, submission, _entry_id(first), self._version_of_first(first, submission))
            )
            chunk.events += events
            chunk.size += size
        for fact in conflicts:
            assert fact.fact is not None
            chunk.entries[fact.aggregate_id] = fact.fact
        self._save(chunk, [*refusals, *self.outcome.refused.values()], trackings)
        for index, dup in enumerate(submissions):  # duplicates within the batch
            if index in self.outcome.duplicates and index not in self.outcome.positions:
                first_index = seen.get(dup.key)
                if first_index is not None and first_index in self.outcome.positions:
                    self.outcome.positions[index] = self.outcome.positions[first_index]
        return self.outcome

    @staticmethod
    def _version_of_first(entry: Entry, submission: Submission) -> int:
        if isinstance(entry, StoredEvent):
            return entry.originator_version
        # The submission's first change is the earliest of its pending events on that
        # aggregate from the end: one event per change and aggregate.
        changes_here = sum(1 for c in submission.changes if c.aggregate_id == entry.id)
        return int(entry.version) - changes_here + 1

    def _current(self, aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id not in self.loaded:
            try:
                self.loaded[aggregate_id] = self.store.get(aggregate_id)
            except AggregateNotFoundError:
                self.loaded[aggregate_id] = None
        return self.loaded[aggregate_id]

    def _apply(self, submission: Submission) -> list[Entry]:
        """Apply every change of one submission, all or nothing."""
        changes = submission.changes
        if all(c.fact is not None for c in changes):
            return self._facts(changes)
        before = {c.aggregate_id: self._current(c.aggregate_id) for c in changes}
        # A command checks before it records, so one failing change leaves its aggregate
        # as it was; with several changes, earlier ones must be undone: work on copies.
        working = copy.deepcopy(before) if len(changes) > 1 else dict(before)
        changed: list[Entry] = []
        for change in changes:
            if change.apply is None:
                raise ValueError("a submission mixes facts and stateful changes")
            aggregate = change.apply(working[change.aggregate_id])
            working[change.aggregate_id] = aggregate
            if aggregate not in changed:
                changed.append(aggregate)
        self.loaded.update(working)
        return changed

    def _facts(self, changes: Sequence[Change]) -> list[Entry]:
        """Facts are new aggregates whose ids derive from the submission's key, so they
        need no loading; the (source, id) check has already caught a resend."""
        facts: list[Entry] = []
        for change in changes:
            assert change.fact is not None
            if change.aggregate_id in self.loaded:  # only an id collision could get here
                raise InvariantViolated("fact-recorded", "this fact is already recorded")
            facts.append(change.fact)
        for change in changes:
            self.loaded[change.aggregate_id] = None
        return facts

    def _save(
        self,
        chunk: _Chunk,
        refusals: Sequence[RefusalRecord] = (),
        trackings: Sequence[Tracking] = (),
    ) -> None:
        if not chunk.entries and not refusals and not trackings:
            return
        rows = [
            (s.source, s.event_id, agg_id, version, s.content_sha256 or None)
            for _, s, agg_id, version in chunk.members
        ]
        position = self.store.save_batch(
            list(chunk.entries.values()),
            submissions=rows,
            refusals=list(refusals),
            trackings=list(trackings),
        )
        # Every aggregate a submission changed was loaded (or marked new) on the way; the
        # ledger's own records of conflicts were not, and are not submissions' events.
        self.outcome.appended.extend(
            p for (agg_id, _), p in position.items() if agg_id in self.loaded
        )
        for index, _, agg_id, version in chunk.members:
            self.outcome.positions[index] = position[(agg_id, version)]
