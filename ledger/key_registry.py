"""The signing keys the intake verifies against, folded from the registry's events.

Kept in memory and brought up to date from the notification log: on a key not yet
known, and at most every ``max_age`` seconds otherwise, so a rotation or revocation
recorded by any process takes effect everywhere within that time.

The registry believes only what is signed: it starts from one key, the administrators'
(``ledger.administration``), and takes a registry event (a service registered, a key
registered, rotated or revoked) into account only when the signed envelope it was
recorded from (its ``submission``) verifies with a key it already trusts, says what the
event says, and was signed by a key allowed to say it: the administrators', or a
service's own for its own organisation. A registration inserted into the database by
hand carries no such envelope: it is ignored, and named in :attr:`KeyDirectory.untrusted`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
from eventsourcing.utils import get_topic
from ledger_emitter import b64url_decode, key_id_for

from ledger import signing
from ledger.catalogue import (
    EVERY_ORGANISATION,
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    SERVICE_REGISTERED,
)
from ledger.domain.registry import Service
from ledger.intake import RegisteredKey
from ledger.keyring import Keyring

log = logging.getLogger("ledger.registry")

TOPICS = [
    get_topic(Service.Registered),
    get_topic(Service.KeyRegistered),
    get_topic(Service.KeyRotated),
    get_topic(Service.KeyRevoked),
]
_TYPE_OF: dict[type, str] = {
    Service.Registered: SERVICE_REGISTERED,
    Service.KeyRegistered: KEY_REGISTERED,
    Service.KeyRotated: KEY_ROTATED,
    Service.KeyRevoked: KEY_REVOKED,
}


@dataclass(frozen=True)
class Signed:
    """A registry event's envelope, opened and verified: who signed it, what it says."""

    key: RegisteredKey
    envelope: dict[str, Any]


class RegistryTrust:
    """Opens the sealed envelopes registry events were recorded from, and checks them."""

    def __init__(self, keyring: Keyring, root: RegisteredKey) -> None:
        self.keyring = keyring
        self.root = root

    def envelope(self, submission: Any, known: dict[str, RegisteredKey]) -> Signed | None:
        """The verified envelope of a ``submission``; None unless it verifies with a key
        in ``known`` (the root included) and is the one the submission names."""
        if not isinstance(submission, dict):
            return None
        try:
            raw = self.keyring.open(base64.b64decode(submission["envelope_sealed"]))
        except (KeyError, TypeError, ValueError, nacl.exceptions.CryptoError):
            return None
        if hashlib.sha256(raw).hexdigest() != submission.get("envelope_sha256"):
            return None
        try:
            event = signing.parse_json(raw)
        except ValueError:
            return None
        if not isinstance(event, dict) or (event.get("source"), event.get("id")) != (
            submission.get("source"),
            submission.get("event_id"),
        ):
            return None
        key = known.get(str(event.get(signing.KEY_ID_ATTR)))
        if key is None or key.source != event.get("source"):
            return None
        if not signing.verify(event, key.public_key):
            return None
        return Signed(key, event)


class KeyDirectory:
    """Key id -> :class:`RegisteredKey`, with each key's service and validity."""

    def __init__(self, trust: RegistryTrust | None = None) -> None:
        self.trust = trust
        self.keys: dict[str, RegisteredKey] = {}
        if trust is not None:
            self.keys[trust.root.key_id] = trust.root
        self._services: dict[Any, Service.Registered] = {}
        self.untrusted: list[str] = []  # registry events taken into no account, and why

    def get(self, key_id: str) -> RegisteredKey | None:
        return self.keys.get(key_id)

    def organisation_of(self, source: str) -> str | None:
        """The organisation of the registered service ``source``."""
        return next((s.organisation for s in self._services.values() if s.source == source), None)

    def apply(self, event: Any) -> None:
        """Fold one registry event (events of other kinds are ignored)."""
        if self.trust is not None and type(event) in _TYPE_OF:
            problem = self._unsigned(event)
            if problem is not None:
                what = f"{type(event).__qualname__} of {event.originator_id}"
                log.error("a registry event is not trusted, and is ignored: %s: %s", what, problem)
                self.untrusted.append(f"{what}: {problem}")
                return
        if isinstance(event, Service.Registered):
            self._services[event.originator_id] = event
        elif isinstance(event, Service.KeyRegistered):
            self._add(event.originator_id, event.key_id, event.public_key, event.valid_from)
        elif isinstance(event, Service.KeyRotated):
            self._retire(event.originator_id, event.old_key_id, event.at, revoked=False)
            self._add(event.originator_id, event.key_id, event.public_key, event.at)
        elif isinstance(event, Service.KeyRevoked):
            self._retire(event.originator_id, event.key_id, event.at, revoked=True)

    def _unsigned(self, event: Any) -> str | None:
        """Why ``event`` is not to be trusted, or None."""
        assert self.trust is not None
        signed = self.trust.envelope(event.submission, self.keys)
        if signed is None:
            return "no envelope signed by a trusted key"
        envelope, key = signed.envelope, signed.key
        if envelope.get("type") != _TYPE_OF[type(event)] or envelope["type"] not in key.event_types:
            return "its envelope is of another type, or of one its signer may not sign"
        data = envelope.get("data")
        if not isinstance(data, dict):
            return "its envelope has no data"
        if isinstance(event, Service.Registered):
            said = data.get("service", {})
            organisation = event.organisation
            same = (said.get("source"), said.get("organisation"), said.get("name")) == (
                event.source,
                event.organisation,
                event.name,
            ) and sorted(said.get("event_types", [])) == sorted(event.event_types)
        else:
            service = self._services.get(event.originator_id)
            if service is None:
                return "its service was never registered by a trusted key"
            organisation = service.organisation
            same = data.get("service") == service.source and _says(event, data)
        if not same:
            return "its envelope says something else"
        if key.organisation not in (EVERY_ORGANISATION, organisation):
            return "its signer may not act for that organisation"
        return None

    def _add(self, service_id: Any, key_id: str, public_key: str, valid_from: Any) -> None:
        service: Any = self._services.get(service_id)
        if service is None:  # its service's registration was not trusted
            return
        held = self.keys.get(key_id)
        if held is not None and held.source != service.source:
            # A public key is public: another service registering it must not take it
            # over (the intake refuses that; this holds for anything recorded before).
            return
        self.keys[key_id] = RegisteredKey(
            key_id=key_id,
            public_key=bytes.fromhex(public_key),
            source=service.source,
            organisation=service.organisation,
            event_types=frozenset(service.event_types),
            valid_from=valid_from,
        )

    def _retire(self, service_id: Any, key_id: str, at: Any, *, revoked: bool) -> None:
        key = self.keys.get(key_id)
        if key is None or (self.trust is not None and key is self.trust.root):
            return
        service = self._services.get(service_id)
        if service is None or service.source != key.source:
            return  # only the service that holds a key may retire it
        retired_at = at if key.retired_at is None else min(key.retired_at, at)
        self.keys[key_id] = dataclasses.replace(
            key, retired_at=retired_at, revoked=key.revoked or revoked
        )


def _says(event: Any, data: dict[str, Any]) -> bool:
    """Whether a key event's envelope data says what the event records."""
    if isinstance(event, Service.KeyRegistered | Service.KeyRotated):
        try:
            public_key = b64url_decode(str(data.get("public_key")))
        except ValueError:
            return False
        if key_id_for(public_key) != event.key_id or public_key.hex() != event.public_key:
            return False
        return not isinstance(event, Service.KeyRotated) or data.get("old_key_id") == (
            event.old_key_id
        )
    if isinstance(event, Service.KeyRevoked):
        return bool(data.get("key_id") == event.key_id)
    return False
