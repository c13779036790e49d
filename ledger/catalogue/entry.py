"""What a catalogue entry is: a versioned type, how it is authorised and recorded.

An entry turns a verified, schema-valid event (:class:`Received`) into a
:class:`Submission`: the changes it makes to aggregates, not yet applied. The ledger
applies them in order at write time, when the aggregates' current state is known, so
invariants are checked against everything recorded before (including earlier events of
the same batch).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.keyring import Keyring
from ledger.refusals import Reason, Refusal
from ledger.subjects import InvalidIdentifier, SubjectId

PREFIX = "uk.gov.ledger."
# The organisation a key speaks for when it speaks for every one: the administrators'.
EVERY_ORGANISATION = "*"


# Received and Submission are built once per event and never changed afterwards; they
# are not frozen dataclasses because building one of those takes ~1 us longer.
@dataclass(slots=True)
class Received:
    """A verified submission, ready to be turned into changes."""

    event: dict[str, Any]
    raw: bytes
    raw_sha256: str
    occurred_at: datetime
    signer_organisation: str
    raw_sealed: bytes  # ``raw`` encrypted at rest, once per submission

    @property
    def data(self) -> dict[str, Any]:
        return self.event["data"]


# Applies one change to the aggregate's current state (None if it does not exist yet),
# returning the aggregate with the new event pending; raises InvariantViolated or Refusal.
Apply = Callable[[Aggregate | None], Aggregate]


@dataclass(frozen=True)
class Change:
    """One change a submission makes to one aggregate.

    A stateful change ``apply``-s a command to the aggregate's current state. A fact
    (data accessed, data shared) creates a one-event aggregate whose id derives from the
    submission's own key: it arrives already in stored form (``fact``, see
    :func:`fact_change`), so nothing is loaded and no aggregate object is built. That
    keeps the hot path lean.
    """

    aggregate_id: UUID
    apply: Apply | None = None
    fact: StoredEvent | None = None

    def __post_init__(self) -> None:
        if (self.apply is None) == (self.fact is None):
            raise ValueError("a change either applies a command or records a fact")


def _transcoded(value: Any) -> dict[str, str]:
    """What eventsourcing's JSONTranscoder writes for a datetime, given to orjson as its
    ``default`` (with ``OPT_PASSTHROUGH_DATETIME`` it hands over every datetime, date
    and time). The transcoder finds a transcoding by exact type, hence ``is``."""
    if type(value) is datetime:
        return {"_type_": "datetime_iso", "_data_": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def fact_change(
    aggregate: type[Aggregate], created: type[Any], aggregate_id: UUID, **fields: Any
) -> Change:
    """The change that records ``aggregate(**fields)``: its ``created`` event, stored.

    The same bytes eventsourcing's mapper writes for that event with its JSON
    transcoder (``timestamp`` and ``originator_topic`` first, then the fields in the
    order of ``__init__``), built directly: creating the aggregate and mapping its event
    cost about as much as verifying the signature. Datetimes are transcoded by orjson's
    ``default`` hook, at any depth as eventsourcing does, so the state is built without
    a loop over the fields. ``tests/unit/test_fact_events.py`` pins the equivalence; the
    ledger applies any compressor or cipher when it saves.
    """
    state = {"timestamp": datetime.now(UTC), "originator_topic": get_topic(aggregate), **fields}
    stored = StoredEvent(
        originator_id=aggregate_id,
        originator_version=1,
        topic=get_topic(created),
        state=orjson.dumps(state, default=_transcoded, option=orjson.OPT_PASSTHROUGH_DATETIME),
    )
    return Change(aggregate_id, fact=stored)


@dataclass(slots=True)
class Submission:
    """An authentic, well-formed event and the changes it makes; (source, id) is its key."""

    source: str
    event_id: str
    event_type: str
    occurred_at: datetime
    raw_sha256: str
    raw_sealed: bytes
    changes: tuple[Change, ...]
    signing_key: str = ""
    # Keys this submission retires from a time on: (key id, from, refusal reason code).
    # Later submissions of the same batch signed by such a key are judged against it.
    retires: tuple[tuple[str, datetime, str], ...] = ()
    # SHA-256 of what the event says (``signing.content_digest``): a resend of the same
    # (source, id) must say the same.
    content_sha256: bytes = b""
    organisation: str = ""  # of the signing key's service

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.event_id)


Builder = Callable[[Received, Keyring], Sequence[Change]]
# The organisations on whose behalf an event speaks (the signer must belong to one),
# and the JSON pointer that names them; None when the type alone authorises.
Acting = Callable[[dict[str, Any]], tuple[list[str], str] | None]


@dataclass(frozen=True)
class EventType:
    """One versioned type of the catalogue."""

    name: str
    title: str
    description: str
    data_schema: dict[str, Any]
    build: Builder
    acting: Acting

    @property
    def stem(self) -> str:
        """``consent-given.v1`` for ``uk.gov.ledger.consent-given.v1``."""
        return self.name.removeprefix(PREFIX)

    @property
    def schema_file(self) -> str:
        return f"{self.stem}.json"


def subject_keys(data: dict[str, Any], keyring: Keyring) -> list[str]:
    """Pseudonyms of the event's subjects; an invalid identifier refuses the event."""
    keys: list[str] = []
    for index, item in enumerate(data["subjects"]):
        try:
            subject = SubjectId.parse(item["scheme"], item["value"])
        except InvalidIdentifier as exc:
            raise Refusal(Reason.INVALID_SUBJECT, str(exc), f"/data/subjects/{index}") from None
        keys.append(keyring.pseudonymiser.subject_key(subject))
    return keys


def sealed_text(received: Received, keyring: Keyring) -> str:
    """The received bytes, sealed (they carry raw identifiers) and base64-encoded."""
    return base64.b64encode(received.raw_sealed).decode()


def evidence(received: Received, keyring: Keyring) -> dict[str, Any]:
    """What a stateful change keeps of the submission that caused it: its key and the
    exact received bytes, sealed."""
    return {
        "source": received.event["source"],
        "event_id": received.event["id"],
        "envelope_sha256": received.raw_sha256,
        "envelope_sealed": sealed_text(received, keyring),
    }


def parse_instant(text: str) -> datetime:
    """An RFC 3339 date-time with an offset, in UTC; ValueError when it is not one, or
    when it is an instant no datetime holds in UTC (beyond years 1 to 9999, which an
    offset can reach from a valid date)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = datetime.fromisoformat(text.upper())  # RFC 3339 allows "t" and "z"
    if value.tzinfo is None:
        raise ValueError("time has no offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant is beyond the years 1 to 9999 in UTC") from None


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
