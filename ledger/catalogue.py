"""The event catalogue: each versioned type, its JSON Schema and how it is recorded.

Each entry turns a verified, schema-valid event into the aggregate that records it,
with subject identifiers replaced by pseudonyms and the received bytes sealed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from eventsourcing.domain import Aggregate

from ledger.domain.access import DataAccess
from ledger.keyring import Keyring
from ledger.refusals import Reason, Refusal
from ledger.subjects import InvalidIdentifier, SubjectId

DATA_ACCESSED = "uk.gov.ledger.data-accessed.v1"


@dataclass(frozen=True)
class Received:
    """A verified submission, ready to be recorded."""

    event: dict[str, Any]
    raw: bytes
    raw_sha256: str
    occurred_at: datetime


Builder = Callable[[Received, Keyring], Aggregate]


@dataclass(frozen=True)
class EventType:
    name: str
    schema_file: str
    build: Builder

    @property
    def validator(self) -> jsonschema.protocols.Validator:
        return _validator(self.schema_file)


@cache
def _validator(schema_file: str) -> jsonschema.protocols.Validator:
    text = resources.files("ledger.schemas").joinpath(schema_file).read_text()
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def subject_keys(data: dict[str, Any], keyring: Keyring) -> list[str]:
    keys = []
    for index, item in enumerate(data["subjects"]):
        try:
            subject = SubjectId.parse(item["scheme"], item["value"])
        except InvalidIdentifier as exc:
            raise Refusal(Reason.INVALID_SUBJECT, str(exc), f"/data/subjects/{index}") from None
        keys.append(keyring.pseudonymiser.subject_key(subject))
    return keys


def _data_accessed(received: Received, keyring: Keyring) -> Aggregate:
    event, data = received.event, received.event["data"]
    accessor = data["accessor"]
    official = accessor.get("official")
    return DataAccess(
        source=event["source"],
        event_id=event["id"],
        occurred_at=received.occurred_at,
        subject_keys=subject_keys(data, keyring),
        organisation=accessor["organisation"],
        role=accessor["role"],
        official_key=keyring.pseudonymiser.opaque("official", official) if official else None,
        system=data["system"],
        record=data["record"],
        data_categories=data["data_categories"],
        purpose=data["purpose"],
        lawful_basis=data["lawful_basis"],
        action=data["action"],
        break_glass=bool(data.get("break_glass", False)),
        envelope_sha256=received.raw_sha256,
        envelope_sealed=base64.b64encode(keyring.seal(received.raw)).decode(),
    )


CATALOGUE: dict[str, EventType] = {
    t.name: t for t in (EventType(DATA_ACCESSED, "data-accessed.v1.json", _data_accessed),)
}
