"""Administration: organisations, services and their signing keys.

A service may emit these only if registered for them (an administration service), and
only for its own organisation: the service whose keys change, or an agreement it is a
party to. The very first organisation, service and key are registered directly
(``ledger services register``), since nothing could sign for them yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.domain import Aggregate
from ledger_emitter import b64url_decode, key_id_for

from ledger.catalogue.entry import (
    EVERY_ORGANISATION,
    PREFIX,
    Change,
    EventType,
    Received,
    evidence,
    parse_instant,
)
from ledger.catalogue.vocabulary import array, obj, ref, text, whole
from ledger.domain import InvariantViolated
from ledger.domain.registry import Organisation, Service
from ledger.keyring import Keyring
from ledger.nations import ENGLAND_AND_WALES, NATIONS
from ledger.refusals import Reason, Refusal

ORGANISATION_REGISTERED = PREFIX + "organisation-registered.v1"
SERVICE_REGISTERED = PREFIX + "service-registered.v1"
KEY_REGISTERED = PREFIX + "key-registered.v1"
KEY_ROTATED = PREFIX + "key-rotated.v1"
KEY_REVOKED = PREFIX + "key-revoked.v1"

Build = Callable[[Received, Keyring], Sequence[Change]]
SOURCE = {
    "type": "string",
    "pattern": whole("[\\x21-\\x7e]{1,256}"),
    "description": "The service's source attribute",
}
PUBLIC_KEY = {
    "type": "string",
    "pattern": whole("[A-Za-z0-9_-]{43}"),
    "description": "Ed25519 public key, base64url without padding",
}
KEY_ID = {"type": "string", "pattern": whole("ed25519:[0-9a-f]{32}")}
NATION = {
    "enum": list(NATIONS),
    "description": "The nation whose law and bank holidays the organisation works to "
    "(statutory deadlines differ between them): england-and-wales, scotland or "
    f"northern-ireland. Absent means {ENGLAND_AND_WALES}.",
}


def _public_key(text_: str) -> bytes:
    return b64url_decode(text_)


def creating(aggregate_id: Any, what: str, make: Callable[[], Aggregate]) -> Sequence[Change]:
    def apply(current: Aggregate | None) -> Aggregate:
        if current is not None:
            raise InvariantViolated(f"{what}-exists", f"this {what} is already registered")
        return make()

    return (Change(aggregate_id, apply),)


def _organisation(received: Received, keyring: Keyring) -> Sequence[Change]:
    org, submission = received.data["organisation"], evidence(received, keyring)
    return creating(
        Organisation.create_id(org["code"]),
        "organisation",
        lambda: Organisation(
            code=org["code"],
            name=org["name"],
            submission=submission,
            nation=org.get("nation", ENGLAND_AND_WALES),
        ),
    )


def _service(received: Received, keyring: Keyring) -> Sequence[Change]:
    svc, submission = received.data["service"], evidence(received, keyring)
    return creating(
        Service.create_id(svc["source"]),
        "service",
        lambda: Service(
            source=svc["source"],
            organisation=svc["organisation"],
            name=svc["name"],
            event_types=svc["event_types"],
            submission=submission,
        ),
    )


def _on_service(step: Callable[[Service, Received, dict[str, Any]], None]) -> Build:
    """A builder for a change to an existing service of the signer's organisation."""

    def build(received: Received, keyring: Keyring) -> Sequence[Change]:
        submission = evidence(received, keyring)

        def apply(current: Aggregate | None) -> Aggregate:
            if not isinstance(current, Service):
                raise InvariantViolated("service-unknown", "no service with this source")
            if received.signer_organisation not in (EVERY_ORGANISATION, current.organisation):
                raise Refusal(
                    Reason.NOT_AUTHORISED,
                    f"{received.signer_organisation} may not change a service of "
                    f"{current.organisation}",
                    "/data/service",
                )
            step(current, received, submission)
            return current

        return (Change(Service.create_id(received.data["service"]), apply),)

    return build


def _register_key(received: Received, keyring: Keyring) -> Sequence[Change]:
    # Read now, not when applied: a time no datetime holds is refused here.
    public_key = _public_key(received.data["public_key"])
    valid_from = received.data.get("valid_from")
    since = received.occurred_at if valid_from is None else parse_instant(valid_from)

    def register(service: Service, _: Received, submission: dict[str, Any]) -> None:
        service.register_key(key_id_for(public_key), public_key.hex(), since, submission)

    return _on_service(register)(received, keyring)


def _rotate_key(service: Service, received: Received, submission: dict[str, Any]) -> None:
    public_key = _public_key(received.data["public_key"])
    service.rotate_key(
        received.data["old_key_id"],
        key_id_for(public_key),
        public_key.hex(),
        received.occurred_at,
        submission,
    )


def _revoke_key(service: Service, received: Received, submission: dict[str, Any]) -> None:
    service.revoke_key(
        received.data["key_id"], received.occurred_at, received.data["reason"], submission
    )


def no_party(_: dict[str, Any]) -> None:
    return None  # checked against the stored aggregate when applied


TYPES = (
    EventType(
        ORGANISATION_REGISTERED,
        "Organisation registered (v1)",
        "A public body was registered, with its short code, plain-English name and nation.",
        obj(
            ["organisation"],
            {
                "organisation": obj(
                    ["code", "name"],
                    {"code": ref("organisation"), "name": text(200), "nation": NATION},
                )
            },
        ),
        _organisation,
        no_party,
    ),
    EventType(
        SERVICE_REGISTERED,
        "Service registered (v1)",
        "A service of an organisation was registered, with the event types it may emit.",
        obj(
            ["service"],
            {
                "service": obj(
                    ["source", "organisation", "name", "event_types"],
                    {
                        "source": SOURCE,
                        "organisation": ref("organisation"),
                        "name": text(200),
                        "event_types": array(
                            {
                                "type": "string",
                                "pattern": whole("uk\\.gov\\.ledger\\.[a-z-]+\\.v[0-9]+"),
                            },
                            1,
                            50,
                        ),
                    },
                )
            },
        ),
        _service,
        lambda d: ([d["service"]["organisation"]], "/data/service/organisation"),
    ),
    EventType(
        KEY_REGISTERED,
        "Signing key registered (v1)",
        "A service's Ed25519 public key was registered; its key id derives from it.",
        obj(
            ["service", "public_key"],
            {"service": SOURCE, "public_key": PUBLIC_KEY, "valid_from": ref("instant")},
        ),
        _register_key,
        no_party,
    ),
    EventType(
        KEY_ROTATED,
        "Signing key rotated (v1)",
        "A service replaced its current key; the old key stays valid for events whose "
        "time is before this event's time.",
        obj(
            ["service", "old_key_id", "public_key"],
            {"service": SOURCE, "old_key_id": KEY_ID, "public_key": PUBLIC_KEY},
        ),
        _on_service(_rotate_key),
        no_party,
    ),
    EventType(
        KEY_REVOKED,
        "Signing key revoked (v1)",
        "A key was revoked from this event's time: events claiming a later time are "
        "refused; events before it stay valid.",
        obj(
            ["service", "key_id", "reason"],
            {"service": SOURCE, "key_id": KEY_ID, "reason": text(300)},
        ),
        _on_service(_revoke_key),
        no_party,
    ),
)
