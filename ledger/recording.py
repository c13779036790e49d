"""Applying a batch of submissions to the ledger's aggregates, in order.

Several submissions in one batch may change the same aggregate (a consent given then
withdrawn): each aggregate is loaded once and every change is applied, in order, to
that one in-memory object, so invariants see the earlier changes of the batch.

Idempotency is by (source, id), whatever the aggregate: a submission already recorded
(in an earlier batch, or earlier in this one) is a duplicate, answered with its original
position and recorded nothing. The ledger's ``submissions`` table, written in the same
transaction as the events, is the durable guard; its primary key is the last word.

A batch is saved in as few transactions as the save-size cap allows; the source
positions (tracking) and refusals go with the last one. A crash between two of them
replays the batch, and the submissions already recorded are then duplicates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording, Tracking

from ledger.catalogue import Submission
from ledger.domain import InvariantViolated
from ledger.persistence import RefusalRow
from ledger.refusals import Reason, Refusal

# DESIGN.md's "Known defect" (saves over ~0.45 MB can hang) lives in eventsourcing's
# pipeline-mode insert; the ledger recorder appends with COPY and no pipeline, so the
# byte bound only keeps one transaction a reasonable size.
MAX_EVENTS_PER_SAVE = 250
MAX_BYTES_PER_SAVE = 16_000_000
_EVENT_OVERHEAD = 600  # bytes of an event besides its sealed envelope, roughly

RefusalFor = Callable[[int, Refusal], RefusalRow]


class Store(Protocol):
    """What the batch needs of the application (the ledger)."""

    def get(self, aggregate_id: UUID) -> Aggregate: ...
    def save_batch(
        self, aggregates: Sequence[Aggregate], **kwargs: Any
    ) -> list[Recording[UUID]]: ...
    def submitted(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]: ...


@dataclass
class BatchOutcome:
    """What became of each submission of a batch, by its index in the batch."""

    positions: dict[int, int] = field(default_factory=dict)  # new or original position
    appended: list[int] = field(default_factory=list)  # positions newly appended
    duplicates: list[int] = field(default_factory=list)
    refused: dict[int, RefusalRow] = field(default_factory=dict)


def direct_refusal(submission: Submission, refusal: Refusal, channel: str) -> RefusalRow:
    """A refusal row for a submission that did not come from Kafka."""
    return RefusalRow.of(refusal, submission.raw_sha256, submission.raw_sealed, channel)


@dataclass
class _Chunk:
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    # (index, submission, the aggregate and version of its first event)
    members: list[tuple[int, Submission, UUID, int]] = field(default_factory=list)
    events: int = 0
    size: int = 0


class Batch:
    """One batch of submissions, applied in order and saved."""

    def __init__(self, store: Store, refusal_for: RefusalFor) -> None:
        self.store = store
        self.refusal_for = refusal_for
        self.loaded: dict[UUID, Aggregate | None] = {}
        self.outcome = BatchOutcome()

    def record(
        self,
        submissions: Sequence[Submission],
        refusals: Sequence[RefusalRow],
        trackings: Sequence[Tracking],
    ) -> BatchOutcome:
        known = self.store.submitted(list({s.key for s in submissions}))
        seen: dict[tuple[str, str], int] = {}  # key -> index of the first in this batch
        retired: dict[str, tuple[datetime, str]] = {}  # key id -> (from, refusal reason)
        chunk = _Chunk()
        for index, submission in enumerate(submissions):
            key = submission.key
            if key in known or key in seen:
                self.outcome.duplicates.append(index)
                if key in known:
                    self.outcome.positions[index] = known[key]
                continue
            events = len(submission.changes)
            size = events * (len(submission.raw_sealed) * 4 // 3 + _EVENT_OVERHEAD)
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
            for aggregate in changed:
                chunk.aggregates[aggregate.id] = aggregate
            first = changed[0]
            chunk.members.append(
                (index, submission, first.id, self._version_of_first(first, submission))
            )
            chunk.events += events
            chunk.size += size
        self._save(chunk, [*refusals, *self.outcome.refused.values()], trackings)
        for index, dup in enumerate(submissions):  # duplicates within the batch
            if index in self.outcome.duplicates and index not in self.outcome.positions:
                first_index = seen.get(dup.key)
                if first_index is not None and first_index in self.outcome.positions:
                    self.outcome.positions[index] = self.outcome.positions[first_index]
        return self.outcome

    @staticmethod
    def _version_of_first(aggregate: Aggregate, submission: Submission) -> int:
        # The submission's first change is the earliest of its pending events on that
        # aggregate from the end: one event per change and aggregate.
        changes_here = sum(1 for c in submission.changes if c.aggregate_id == aggregate.id)
        return int(aggregate.version) - changes_here + 1

    def _current(self, aggregate_id: UUID, fresh: bool) -> Aggregate | None:
        if aggregate_id not in self.loaded:
            if fresh:
                self.loaded[aggregate_id] = None
            else:
                try:
                    self.loaded[aggregate_id] = self.store.get(aggregate_id)
                except AggregateNotFoundError:
                    self.loaded[aggregate_id] = None
        return self.loaded[aggregate_id]

    def _apply(self, submission: Submission) -> list[Aggregate]:
        """Apply every change of one submission, all or nothing."""
        changes = submission.changes
        before = {c.aggregate_id: self._current(c.aggregate_id, c.fresh) for c in changes}
        # A command checks before it records, so one failing change leaves its aggregate
        # as it was; with several changes, earlier ones must be undone: work on copies.
        working = copy.deepcopy(before) if len(changes) > 1 else dict(before)
        changed: list[Aggregate] = []
        for change in changes:
            aggregate = change.apply(working[change.aggregate_id])
            working[change.aggregate_id] = aggregate
            if aggregate not in changed:
                changed.append(aggregate)
        self.loaded.update(working)
        return changed

    def _save(
        self,
        chunk: _Chunk,
        refusals: Sequence[RefusalRow] = (),
        trackings: Sequence[Tracking] = (),
    ) -> None:
        if not chunk.members and not refusals and not trackings:
            return
        rows = [(s.source, s.event_id, agg_id, version) for _, s, agg_id, version in chunk.members]
        recordings = self.store.save_batch(
            list(chunk.aggregates.values()),
            submissions=rows,
            refusals=list(refusals),
            trackings=list(trackings),
        )
        position = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }
        self.outcome.appended.extend(r.notification.id for r in recordings)
        for index, _, agg_id, version in chunk.members:
            self.outcome.positions[index] = position[(agg_id, version)]
