"""Where every event of the log comes from, checked back to the root of trust.

The leaves and signed tree heads prove that the log has not changed since it was
sealed; they cannot tell whether a row was genuine when it was sealed. A row inserted
into ``ledger_events`` by someone with write access to the database is sealed like any
other. What tells it apart is that nothing signed it: every event the ledger records
keeps the envelope it was recorded from (sealed, as received), and that envelope
carries the signature of the service that sent it, or of the administrators, whose
key is the **root of trust** the operator configures (``ledger.administration``).

:class:`Provenance` walks the events in ledger order and, for each one:

1. opens the envelope the event keeps and checks it is the one the event names
   (its SHA-256, its source and id);
2. assesses it again with the ledger's own intake against the keys the log had
   registered *before* that event, starting from the administrators' key alone: the
   signature must verify with a key the root of trust vouched for, of the envelope's
   source, allowed to sign its type for the organisation it names, not retired before
   the time it claims. Time windows are not judged again: they were the ledger's to
   apply when it received the event;
3. re-derives, from that envelope, the event the ledger would have recorded (a fact
   from the envelope alone; a change to a consent, a request or a registration from the
   record's state just before it), and compares it with the stored event, field by
   field, but for the moment it was recorded and the envelope's encryption nonce;
4. refuses an envelope used twice for one record (a replay of a genuine change);
5. folds registrations into the keys it trusts (the same fold the key registry makes).

A refused resend (:class:`~ledger.domain.anomaly.ResendConflict`) keeps the resend's
own envelope, which the service signed: it is checked to say what the fact records.

Costs about what the intake costs per event (a signature, a schema, a pseudonym), plus
one read of a record's earlier events for each change to a stateful record; memory grows
by about 100 bytes per event (the envelopes already used).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any
from uuid import UUID

import nacl.exceptions
import orjson
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from ledger.catalogue import Submission
from ledger.domain import InvariantViolated
from ledger.domain.access import DataAccess
from ledger.domain.agreement import DataSharingAgreement
from ledger.domain.anomaly import ResendConflict
from ledger.domain.consent import Consent, Objection
from ledger.domain.dsar import AccessQuery, SubjectAccessRequest
from ledger.domain.erasure import Erasure
from ledger.domain.registry import Organisation, Service
from ledger.domain.sharing import DataShare
from ledger.erasure import event_signature_problem
from ledger.intake import Intake, RegisteredKey
from ledger.key_registry import KeyDirectory, RegistryTrust
from ledger.keyring import Keyring
from ledger.refusals import Refusal
from ledger.transcoding import ledger_transcoder
from ledger.transparency.leaves import EventRow

# An aggregate's stored events before a version: (version, topic, state), oldest first.
Earlier = Callable[[UUID, int], Iterable[tuple[int, str, bytes]]]

_AGGREGATES: tuple[type[Aggregate], ...] = (
    Erasure,
    DataAccess,
    DataShare,
    ResendConflict,
    Consent,
    Objection,
    SubjectAccessRequest,
    AccessQuery,
    DataSharingAgreement,
    Organisation,
    Service,
)
# The topics of every event the ledger records: nothing else is decoded (a topic names
# a class to import, and a row written by hand may name any).
KNOWN_TOPICS = frozenset(
    get_topic(member)
    for aggregate in _AGGREGATES
    for member in vars(aggregate).values()
    if isinstance(member, type) and issubclass(member, Aggregate.Event)
)
# What a recorded event may differ in from the one re-derived: when it was recorded,
# and the nonce its envelope was sealed with (the envelope itself is checked).
_RECORDING = ("timestamp",)
_SEALED = "envelope_sealed"


class _Keys:
    """The intake's view of the keys folded so far."""

    def __init__(self, directory: KeyDirectory) -> None:
        self.directory = directory

    def key(self, key_id: str) -> RegisteredKey | None:
        return self.directory.get(key_id)


class Provenance:
    """Checks each event, in ledger order, back to the root of trust (see the module)."""

    def __init__(self, keyring: Keyring, trust: RegistryTrust, earlier: Earlier) -> None:
        self.keyring = keyring
        self.directory = KeyDirectory(trust)
        self.intake = Intake(
            _Keys(self.directory), keyring, max_bytes=2**31, max_future=None, max_past=None
        )
        self.earlier = earlier
        self.mapper: Mapper[UUID] = Mapper(transcoder=ledger_transcoder())
        # (envelope, record) -> (first, last) version it made: an envelope makes a
        # record's changes once, in consecutive versions.
        self._used: dict[bytes, tuple[int, int]] = {}
        # Events whose keys are destroyed (identity -> slots), and what the erasures
        # recorded in the log name: every destroyed key must be named by one.
        self.destroyed: dict[str, set[str]] = {}
        self._named: dict[str, set[str]] = {}
        self._verify_key = keyring.log_signing_key.verify_key

    def check(self, row: EventRow) -> str | None:
        """Why the event of ``row`` is not to be trusted; None when it checks out."""
        if row.topic not in KNOWN_TOPICS:
            return "it is of a kind the ledger does not record"
        if row.state is None:
            return "its stored state is missing"
        state = row.state
        if row.opened is not None:
            if row.opened.fault is not None:
                return (
                    "its personal values do not open with their data keys (a key or a sealed "
                    f"value was altered): {row.opened.fault}"
                )
            if row.opened.missing:
                # The writer stores an event's keys in the transaction that stores it.
                return (
                    "its sealed values have no data keys: the ledger never stored it "
                    f"(slots {sorted(row.opened.missing)})"
                )
            if row.opened.destroyed:
                # Erased: what vouched for it (its envelope) is gone with its keys. Its
                # leaf still proves it is as sealed; an erasure must name it (finish).
                self.destroyed[row.identity] = set(row.opened.destroyed)
                return None
            state = row.opened.state
        if row.topic == _ERASURE:
            return self._erasure(row, state)
        try:
            stored = orjson.loads(state)
        except orjson.JSONDecodeError:
            return "its stored state is not JSON"
        if not isinstance(stored, dict):
            return "its stored state is not a JSON object"
        evidence = _evidence(stored)
        if evidence is None:
            return "it keeps no signed envelope: nothing vouches for it"
        raw = self._open(evidence)
        if raw is None:
            return "the envelope it keeps does not open, or is not the one it names"
        try:
            submission = self.intake.assess(raw)
        except Refusal as refusal:
            return (
                "its envelope is not one the ledger would record from a key the root of "
                f"trust vouches for ({refusal.reason}: {refusal.detail})"
            )
        if (submission.source, submission.event_id) != (
            evidence.get("source"),
            evidence.get("event_id"),
        ):
            return "the envelope it keeps is another event's"
        problem = (
            _conflict(stored, submission)
            if row.topic == _CONFLICT
            else self._derived(dataclasses.replace(row, state=state), stored, submission)
        )
        if problem is None:
            self._fold(dataclasses.replace(row, state=state))
        return problem

    def _erasure(self, row: EventRow, state: bytes) -> str | None:
        """An erasure is the ledger's own record: signed by the log's key."""
        stored = StoredEvent(row.originator_id, row.originator_version, _ERASURE, state)
        try:
            event = self.mapper.to_domain_event(stored)
        except (ValueError, TypeError, KeyError):
            return "its stored state is not an erasure record"
        if not isinstance(event, Erasure.Recorded):
            return "its stored state is not an erasure record"
        problem = event_signature_problem(event, self._verify_key)
        if problem is None:
            for item in event.erased:
                self._named.setdefault(str(item.get("event")), set()).update(item.get("slots", []))
        return problem

    def finish(self) -> str | None:
        """After every event: why the destroyed keys do not check out (a key destroyed
        with no erasure recorded in the log to say so), or None."""
        for identity, slots in self.destroyed.items():
            missing = slots - self._named.get(identity, set())
            if missing:
                return (
                    f"the data keys {sorted(missing)} of event {identity} are gone, but no "
                    "erasure recorded in the log names them (destroyed by hand?)"
                )
        return None

    def _open(self, evidence: dict[str, Any]) -> bytes | None:
        try:
            raw = self.keyring.open(base64.b64decode(evidence[_SEALED], validate=True))
        except (KeyError, TypeError, ValueError, nacl.exceptions.CryptoError):
            return None
        if hashlib.sha256(raw).hexdigest() != evidence.get("envelope_sha256"):
            return None
        return raw

    def _derived(self, row: EventRow, stored: dict[str, Any], submission: Submission) -> str | None:
        """Whether the envelope makes exactly this event (see the module, step 3 and 4)."""
        changes = [c for c in submission.changes if c.aggregate_id == row.originator_id]
        if not changes:
            return "its envelope says nothing about this record"
        version = row.originator_version
        used = _digest(submission, row.originator_id)
        first, last = self._used.get(used, (version, version - 1))
        if last != version - 1:
            return "it replays an envelope already recorded for this record"
        self._used[used] = (first, version)
        if changes[0].fact is not None:
            made = [(1, changes[0].fact.topic, changes[0].fact.state)]
        else:
            try:
                made = self._applied(row.originator_id, first, changes)
            except (InvariantViolated, Refusal, ValueError, TypeError, AssertionError):
                return "its envelope does not make this change to the record as it stood"
        for made_version, topic, state in made:
            if made_version == version:
                if topic != row.topic or _comparable(orjson.loads(state)) != _comparable(
                    _with_defaults(row.topic, stored)
                ):
                    return "it records something other than its envelope says"
                return None
        return "its envelope does not make this change to the record as it stood"

    def _applied(
        self, aggregate_id: UUID, first: int, changes: list[Any]
    ) -> list[tuple[int, str, bytes]]:
        """The events the changes make to the record as it stood before ``first``."""
        events = [
            self.mapper.to_domain_event(StoredEvent(aggregate_id, v, topic, state))
            for v, topic, state in self.earlier(aggregate_id, first)
            if topic in KNOWN_TOPICS
        ]
        aggregate: Aggregate | None = project_aggregate(None, events) if events else None
        for change in changes:
            aggregate = change.apply(aggregate)
        assert aggregate is not None
        return [
            (e.originator_version, stored.topic, stored.state)
            for e in aggregate.collect_events()
            for stored in [self.mapper.to_stored_event(e)]
        ]

    def _fold(self, row: EventRow) -> None:
        if row.topic in _REGISTRY:
            assert row.state is not None
            stored = StoredEvent(row.originator_id, row.originator_version, row.topic, row.state)
            self.directory.apply(self.mapper.to_domain_event(stored))


_CONFLICT = get_topic(ResendConflict.Recorded)
_ERASURE = get_topic(Erasure.Recorded)
_REGISTRY = frozenset(
    get_topic(e)
    for e in (Service.Registered, Service.KeyRegistered, Service.KeyRotated, Service.KeyRevoked)
)


def _evidence(stored: dict[str, Any]) -> dict[str, Any] | None:
    """The envelope an event keeps: a fact's own fields, or a change's ``submission``."""
    submission = stored.get("submission")
    if isinstance(submission, dict) and _SEALED in submission:
        return submission
    if _SEALED in stored:
        return stored
    return None


def _conflict(stored: dict[str, Any], submission: Submission) -> str | None:
    """A refused resend records what its own envelope says, and who sent it."""
    if (stored.get("source"), stored.get("event_id"), stored.get("organisation")) != (
        submission.source,
        submission.event_id,
        submission.organisation,
    ) or stored.get("conflicting_sha256") != submission.content_sha256.hex():
        return "it records a resend other than the one it keeps"
    return None


@cache
def _defaults(topic: str) -> dict[str, Any]:
    """The members of an event class that have a default (one of ``KNOWN_TOPICS``)."""
    return {
        f.name: f.default
        for f in dataclasses.fields(resolve_topic(topic))
        if f.default is not dataclasses.MISSING
    }


def _with_defaults(topic: str, stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` as the ledger reads it: an event stored before its class gained a
    member (e.g. an organisation's ``nation``) has the member's default, and re-deriving
    it from its envelope today gives that member too."""
    return {**_defaults(topic), **stored}


def _comparable(state: Any) -> Any:
    """``state`` without what may differ between recording and re-deriving it."""
    if not isinstance(state, dict):
        return state
    kept = {k: v for k, v in state.items() if k not in _RECORDING and k != _SEALED}
    submission = kept.get("submission")
    if isinstance(submission, dict):
        kept["submission"] = {k: v for k, v in submission.items() if k != _SEALED}
    return kept


def _digest(submission: Submission, aggregate_id: UUID) -> bytes:
    key = f"{submission.source}\n{submission.event_id}\n{aggregate_id}".encode()
    return hashlib.blake2b(key, digest_size=12).digest()
