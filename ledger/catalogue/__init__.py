"""The event catalogue (v1): every versioned type, its JSON Schema and how it is recorded.

Types are named ``uk.gov.ledger.<name>.v<N>``. The published schemas in
``ledger/schemas/`` are generated from these definitions (``python -m
ledger.catalogue.publish``) and a test keeps them identical; validators are compiled
once per process.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from ledger.catalogue import administration, agreements, consents, facts, requests
from ledger.catalogue.administration import (
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    ORGANISATION_REGISTERED,
    SERVICE_REGISTERED,
)
from ledger.catalogue.agreements import AGREEMENT_AMENDED, AGREEMENT_ENDED, AGREEMENT_REGISTERED
from ledger.catalogue.consents import (
    CONSENT_EXPIRED,
    CONSENT_GIVEN,
    CONSENT_RENEWED,
    CONSENT_WITHDRAWN,
    OBJECTION_LIFTED,
    OBJECTION_SET,
)
from ledger.catalogue.entry import (
    EVERY_ORGANISATION,
    PREFIX,
    Change,
    EventType,
    Received,
    Submission,
    parse_instant,
)
from ledger.catalogue.facts import DATA_ACCESSED, DATA_SHARED
from ledger.catalogue.prefilter import Predicate, Unsupported, compile_schema
from ledger.catalogue.requests import (
    SAR_CLARIFICATION_RECEIVED,
    SAR_CLARIFICATION_REQUESTED,
    SAR_CLOSED,
    SAR_EXTENDED,
    SAR_IDENTITY_VERIFIED,
    SAR_RECEIVED,
    SAR_REFUSED,
    SAR_RESPONDED,
)
from ledger.catalogue.vocabulary import envelope
from ledger.refusals import Reason, Refusal

CATALOGUE: dict[str, EventType] = {
    t.name: t
    for t in (
        *facts.TYPES,
        *consents.TYPES,
        *requests.TYPES,
        *requests.QUERY_TYPES,
        *administration.TYPES,
        *agreements.TYPES,
    )
}

_VERSIONED = re.compile(r"^(?P<stem>.+)\.v(?P<version>[0-9]+)$")
_KNOWN_STEMS = {_VERSIONED.match(name)["stem"] for name in CATALOGUE}  # type: ignore[index]


def event_type(name: str) -> EventType:
    """The catalogue entry for ``name``, or a refusal saying whether the type or only
    its version is unknown."""
    found = CATALOGUE.get(name)
    if found is not None:
        return found
    versioned = _VERSIONED.match(name)
    if versioned and versioned["stem"] in _KNOWN_STEMS:
        known = sorted(n for n in CATALOGUE if n.startswith(versioned["stem"] + ".v"))
        raise Refusal(
            Reason.UNKNOWN_VERSION,
            f"this version of the type is not in the catalogue; known: {', '.join(known)}",
            "/type",
        )
    raise Refusal(Reason.UNKNOWN_TYPE, "the type is not in the catalogue", "/type")


def schema_document(kind: EventType) -> dict[str, Any]:
    """The full JSON Schema of one type, as published."""
    return envelope(kind.name, kind.title, kind.description, kind.data_schema)


@cache
def _published_schema(name: str) -> dict[str, Any]:
    text = resources.files("ledger.schemas").joinpath(CATALOGUE[name].schema_file).read_text()
    return dict(json.loads(text))


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """The reference validator of a type (jsonschema), from its published schema file."""
    schema = _published_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@cache
def prefilter(name: str) -> Predicate | None:
    """A yes/no check of the type's schema, equal to the reference validator's verdict
    and ~10x faster (``ledger.catalogue.prefilter``); None if the schema uses a keyword
    it does not implement (then only the reference runs)."""
    reference = validator(name)
    assert reference.format_checker is not None
    try:
        return compile_schema(_published_schema(name), reference.format_checker)
    except Unsupported:
        return None


def schema_errors(name: str, event: Any) -> list[jsonschema.ValidationError]:
    """Every schema violation of ``event``, most specific location first; [] if valid."""
    check = prefilter(name)
    if check is not None and check(event):
        return []
    # The reference validator says precisely what is wrong, and where.
    return sorted(validator(name).iter_errors(event), key=lambda e: list(map(str, e.absolute_path)))


def violation(error: jsonschema.ValidationError) -> Refusal:
    """A schema violation as a refusal: which rule, at which member, never the value.

    jsonschema's own messages quote the offending value (``'AB-12-34-56-C' does not
    match ...``), and a mistyped identifier must not be stored or echoed in clear."""
    path = [str(part).replace("~", "~0").replace("/", "~1") for part in error.absolute_path]
    pointer = "".join(f"/{part}" for part in path) or "/"
    return Refusal(Reason.SCHEMA_VIOLATION, _rule_broken(error), pointer)


def _rule_broken(error: jsonschema.ValidationError) -> str:
    keyword, limit = error.validator, error.validator_value
    if keyword == "required" and isinstance(error.instance, dict):
        missing = [name for name in limit if name not in error.instance]
        return f"required member missing: {', '.join(missing)}"
    simple = {
        "additionalProperties": "has a member the schema does not allow",
        "unevaluatedProperties": "has a member the schema does not allow",
        "enum": "is not one of the allowed values",
        "pattern": "does not have the form the schema requires",
        "uniqueItems": "repeats an item",
        "oneOf": "matches none of the allowed forms",
        "anyOf": "matches none of the allowed forms",
        "not": "has a form the schema forbids",
    }
    if keyword in simple:
        return simple[keyword]
    bounded = {
        "type": "must be of type {}",
        "const": "must be {}",
        "format": "is not a valid {}",
        "minLength": "is shorter than {} characters",
        "maxLength": "is longer than {} characters",
        "minItems": "has fewer than {} items",
        "maxItems": "has more than {} items",
        "minimum": "is below {}",
        "maximum": "is above {}",
        "exclusiveMinimum": "is not above {}",
        "exclusiveMaximum": "is not below {}",
        "minProperties": "has fewer than {} members",
        "maxProperties": "has more than {} members",
    }
    if keyword in bounded:
        shown = limit if isinstance(limit, int | str) else ", ".join(map(str, limit))
        return bounded[keyword].format(shown)
    return f"breaks the schema's {keyword} rule"


__all__ = [
    "AGREEMENT_AMENDED",
    "AGREEMENT_ENDED",
    "AGREEMENT_REGISTERED",
    "CATALOGUE",
    "CONSENT_EXPIRED",
    "CONSENT_GIVEN",
    "CONSENT_RENEWED",
    "CONSENT_WITHDRAWN",
    "DATA_ACCESSED",
    "DATA_SHARED",
    "EVERY_ORGANISATION",
    "KEY_REGISTERED",
    "KEY_REVOKED",
    "KEY_ROTATED",
    "OBJECTION_LIFTED",
    "OBJECTION_SET",
    "ORGANISATION_REGISTERED",
    "PREFIX",
    "SAR_CLARIFICATION_RECEIVED",
    "SAR_CLARIFICATION_REQUESTED",
    "SAR_CLOSED",
    "SAR_EXTENDED",
    "SAR_IDENTITY_VERIFIED",
    "SAR_RECEIVED",
    "SAR_REFUSED",
    "SAR_RESPONDED",
    "SERVICE_REGISTERED",
    "Change",
    "EventType",
    "Received",
    "Submission",
    "event_type",
    "parse_instant",
    "schema_document",
    "validator",
    "violation",
]
