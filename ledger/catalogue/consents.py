"""Consent given / withdrawn / expired / renewed, and objection (opt-out) set / lifted.

One event may name several purposes; it changes one aggregate per purpose, all or
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.catalogue.entry import (
    PREFIX,
    Change,
    EventType,
    Received,
    evidence,
    parse_instant,
    subject_keys,
)
from ledger.catalogue.vocabulary import array, obj, ref, subjects, text
from ledger.domain import InvariantViolated
from ledger.domain.consent import Consent, Objection
from ledger.keyring import Keyring

CONSENT_GIVEN = PREFIX + "consent-given.v1"
CONSENT_WITHDRAWN = PREFIX + "consent-withdrawn.v1"
CONSENT_EXPIRED = PREFIX + "consent-expired.v1"
CONSENT_RENEWED = PREFIX + "consent-renewed.v1"
OBJECTION_SET = PREFIX + "objection-set.v1"
OBJECTION_LIFTED = PREFIX + "objection-lifted.v1"


def _expiry(data: dict[str, Any]) -> datetime | None:
    value = data.get("expires_at")
    return parse_instant(value) if value else None


def _terms(data: dict[str, Any]) -> dict[str, Any]:
    """What the person agreed to, as ISO/IEC TS 27560 records it (besides purpose)."""
    keys = ("data_categories", "lawful_basis", "collection")
    return {k: data[k] for k in keys if k in data}


Step = Callable[[Any, dict[str, Any]], Aggregate]  # (current aggregate, purpose) -> aggregate


def _per_purpose(kind: type[Aggregate], controller_field: str, step: Step) -> Any:
    def build(received: Received, keyring: Keyring) -> Sequence[Change]:
        data = received.data
        subject_key = subject_keys(data, keyring)[0]
        controller = data.get(controller_field)
        expires_at = _expiry(data)  # read now: a time it cannot hold is refused here
        changes = []
        for purpose in data["purposes"]:
            aggregate_id = kind.create_id(subject_key, controller, purpose)
            context = {
                "subject_key": subject_key,
                "controller": controller,
                "purpose": purpose,
                "at": received.occurred_at,
                "submission": evidence(received, keyring),
                "expires_at": expires_at,
                "data": data,
            }
            changes.append(Change(aggregate_id, _bind(step, context)))
        return changes

    return build


def _bind(step: Step, context: dict[str, Any]) -> Callable[[Aggregate | None], Aggregate]:
    return lambda current: step(current, context)


def _give(current: Consent | None, c: dict[str, Any]) -> Aggregate:
    data = c["data"]
    if current is None:
        return Consent(
            subject_key=c["subject_key"],
            controller=c["controller"],
            purpose=c["purpose"],
            terms=_terms(data),
            at=c["at"],
            expires_at=c["expires_at"],
            submission=c["submission"],
        )
    current.give_again(c["at"], c["expires_at"], _terms(data), c["submission"])
    return current


def _existing(current: Aggregate | None, what: str) -> Any:
    if current is None:
        raise InvariantViolated(f"{what}-unknown", f"no {what} is recorded for this purpose")
    return current


def _withdraw(current: Consent | None, c: dict[str, Any]) -> Aggregate:
    consent = _existing(current, "consent")
    consent.withdraw(c["at"], c["submission"])
    return consent


def _expire(current: Consent | None, c: dict[str, Any]) -> Aggregate:
    consent = _existing(current, "consent")
    consent.expire(c["at"], c["submission"])
    return consent


def _renew(current: Consent | None, c: dict[str, Any]) -> Aggregate:
    consent = _existing(current, "consent")
    consent.renew(c["at"], c["expires_at"], _terms(c["data"]), c["submission"])
    return consent


def _object(current: Objection | None, c: dict[str, Any]) -> Aggregate:
    grounds = c["data"].get("grounds")
    if current is None:
        return Objection(
            subject_key=c["subject_key"],
            controller=c["controller"],
            purpose=c["purpose"],
            grounds=grounds,
            at=c["at"],
            submission=c["submission"],
        )
    current.set_again(c["at"], grounds, c["submission"])
    return current


def _lift(current: Objection | None, c: dict[str, Any]) -> Aggregate:
    objection = _existing(current, "objection")
    objection.lift(c["at"], c["submission"])
    return objection


_COLLECTION = obj(
    ["method", "notice"],
    {
        "method": {
            "enum": ["online", "paper", "verbal", "app", "other"],
            "description": "How consent was collected",
        },
        "notice": obj(
            ["version", "sha256"],
            {
                "version": text(64),
                "sha256": ref("sha256"),
                "url": {"type": "string", "format": "uri", "maxLength": 500},
            },
            "The notice shown: its version and the SHA-256 of its text",
        ),
    },
)

_EXPIRY = {"anyOf": [ref("instant"), {"type": "null"}], "description": "When it lapses, if ever"}


def _consent_data(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return obj(
        ["subjects", "controller", "purposes", *required],
        {
            "subjects": subjects(1),
            "controller": ref("organisation"),
            "purposes": array(ref("coded"), 1, 20),
            **extra,
        },
    )


_TERMS = {
    "data_categories": array(ref("category")),
    "lawful_basis": ref("lawful_basis"),
    "collection": _COLLECTION,
    "expires_at": _EXPIRY,
}


def _controller(data: dict[str, Any]) -> tuple[list[str], str] | None:
    controller = data.get("controller")
    return ([controller], "/data/controller") if controller else None


def _consent(
    name: str, title: str, text_: str, extra: dict[str, Any], required: list[str], step: Step
) -> EventType:
    return EventType(
        name,
        title,
        text_,
        _consent_data(extra, required),
        _per_purpose(Consent, "controller", step),
        _controller,
    )


_OBJECTION_EXTRA = {
    "controller": {
        "anyOf": [ref("organisation"), {"type": "null"}],
        "description": "The controller objected to; null for a national opt-out",
    },
}

TYPES = (
    _consent(
        CONSENT_GIVEN,
        "Consent given (v1)",
        "A citizen gave consent to a controller for one or more purposes.",
        _TERMS,
        ["data_categories", "collection", "expires_at"],
        _give,
    ),
    _consent(
        CONSENT_WITHDRAWN,
        "Consent withdrawn (v1)",
        "A citizen withdrew a consent, for the purposes named.",
        {},
        [],
        _withdraw,
    ),
    _consent(
        CONSENT_EXPIRED,
        "Consent expired (v1)",
        "A consent lapsed at the end of its term.",
        {},
        [],
        _expire,
    ),
    _consent(
        CONSENT_RENEWED,
        "Consent renewed (v1)",
        "A citizen renewed a consent (possibly on a newer notice).",
        _TERMS,
        ["collection", "expires_at"],
        _renew,
    ),
    EventType(
        OBJECTION_SET,
        "Objection or opt-out set (v1)",
        "A citizen objected (UK GDPR Art. 21) or opted out, for the purposes named.",
        _consent_data(
            {
                **_OBJECTION_EXTRA,
                "kind": {"enum": ["objection", "opt-out"]},
                "grounds": text(500, "The grounds given, in plain English"),
            },
            ["kind"],
        ),
        _per_purpose(Objection, "controller", _object),
        _controller,
    ),
    EventType(
        OBJECTION_LIFTED,
        "Objection or opt-out lifted (v1)",
        "A citizen lifted an objection or opt-out, for the purposes named.",
        _consent_data(_OBJECTION_EXTRA, []),
        _per_purpose(Objection, "controller", _lift),
        _controller,
    ),
)
