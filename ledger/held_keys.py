"""Service keys the ledger holds: what signs the events people cause through the API.

Some events are not emitted by an organisation's own systems but caused by a person
through the ledger itself: a DSAR officer recording a step of a case, a citizen
withdrawing a consent in the portal. Each is still a signed CloudEvent of a registered
service of the organisation concerned, recorded through the one write path, so the
audit checks it back to the root of trust like any other. A :class:`HeldService` says
which: its kind (``dsar``, ``portal``), the name it is registered under and the event
types it may emit.

An organisation that opts in (``ledger dsar enable ORG``, ``ledger portal enable ORG``)
has a service of that kind, ``urn:ledger:service:<org>:<kind>``, registered by the
administrators (events their key signs) for the kind's event types as the catalogue
stands when it is enabled. Its signing key is held by the ledger, and nothing of it is
stored: the seed of generation ``g`` is derived from the ledger secret,
``BLAKE2b(key=Keyring.derive(b"<kind>-service"), "<kind>-service\\n<ORG>\\n<g>")``, so
every API process holding the secret derives the same key, and nobody without it can.

A rotation (``ledger <kind> rotate ORG``) registers generation ``g + 1`` with an
administrators' ``key-rotated`` event: the old key is retired from that event's time
(what it signed before stays valid). The API never reads the generation from its
configuration: :class:`HeldSigners` finds it in the key registry (the keys the log
vouches for) and notices a rotation within the registry's refresh interval, or at once
through :meth:`HeldSigners.refresh` after a refusal for a retired key.

Imports no adapter: the ledger is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from eventsourcing.application import AggregateNotFoundError
from ledger_emitter import Emitter, SigningKey

from ledger.administration import Administration
from ledger.catalogue import CATALOGUE
from ledger.domain.registry import Service
from ledger.intake import RegisteredKey
from ledger.keyring import Keyring


@dataclass(frozen=True)
class HeldService:
    """A kind of service whose key the ledger holds for each organisation that opts in.

    ``label``: what messages call it ("DSAR"); ``emits``: whether a type of the
    catalogue is one it may emit; ``backdating``: how far back its first key is valid,
    i.e. how far back people may record what happened through it."""

    kind: str
    label: str
    name: str
    emits: Callable[[str], bool]
    backdating: timedelta

    def source(self, organisation: str) -> str:
        """``urn:ledger:service:dwp:dsar`` for DSAR and ``DWP``."""
        return f"urn:ledger:service:{organisation.lower()}:{self.kind}"

    def event_types(self) -> list[str]:
        """The types of today's catalogue it may emit."""
        return sorted(name for name in CATALOGUE if self.emits(name))

    def signing_key(self, keyring: Keyring, organisation: str, generation: int) -> SigningKey:
        """Generation ``generation`` of ``organisation``'s key, derived from the secret."""
        label = f"{self.kind}-service\n{organisation}\n{generation}".encode()
        # Keyring.derive takes a purpose of at most 16 bytes; organisation codes are up
        # to 32 characters, so the label keys a second derivation.
        purpose = f"{self.kind}-service".encode()
        seed = hashlib.blake2b(label, key=keyring.derive(purpose), digest_size=32).digest()
        return SigningKey(seed)


class NotEnabled(LookupError):
    """``organisation`` holds no usable key of ``service`` (never enabled, or revoked)."""

    def __init__(self, service: HeldService, organisation: str, detail: str = "") -> None:
        detail = detail or f"{service.label} is not enabled for it"
        super().__init__(f"{organisation} holds no {service.label} service key: {detail}")
        self.service = service
        self.organisation = organisation
        self.detail = detail


class SourceTaken(Exception):
    """The held service's source is registered already, for another organisation."""


@dataclass(frozen=True)
class HeldKey:
    """An organisation's current key of a held service, as the key registry holds it."""

    organisation: str
    source: str
    generation: int
    key_id: str


class KeyLookup(Protocol):
    """What :class:`HeldSigners` reads of the ledger (``ledger.application.Ledger``)."""

    def key(self, key_id: str) -> RegisteredKey | None: ...
    def refresh_registry(self) -> None: ...


class HeldSigners:
    """The emitters of one held service, each signing with its organisation's current key.

    The generation in use is cached per organisation and checked against the registry
    on every call (which re-reads the log at most every
    ``ledger.application.REGISTRY_MAX_AGE`` seconds): once the registry says the key
    was retired, the next generation is looked up. Safe to share between threads: two
    that look at once find the same key, and no lock is held while the registry is read.
    """

    def __init__(self, service: HeldService, ledger: KeyLookup, keyring: Keyring) -> None:
        self.service = service
        self.ledger = ledger
        self.keyring = keyring
        self._generation: dict[str, int] = {}
        # (organisation, generation) -> the key and its id (the SDK derives the id anew
        # on every call: twice the cost of the rest of a call here).
        self._keys: dict[tuple[str, int], tuple[SigningKey, str]] = {}

    def emitter(self, organisation: str) -> Emitter:
        """An emitter (no transport) signing as ``organisation``'s held service; raises
        :class:`NotEnabled` if it holds no usable key."""
        current = self.current(organisation)
        return Emitter(current.source, self._key(organisation, current.generation)[0])

    def enabled(self, organisation: str) -> bool:
        """Whether ``organisation`` holds a usable key."""
        try:
            self.current(organisation)
        except NotEnabled:
            return False
        return True

    def current(self, organisation: str) -> HeldKey:
        """``organisation``'s current key; raises :class:`NotEnabled`."""
        generation = self._scan(organisation, self._generation.get(organisation, 1))
        self._generation[organisation] = generation
        return HeldKey(
            organisation,
            self.service.source(organisation),
            generation,
            self._key(organisation, generation)[1],
        )

    def refresh(self, organisation: str) -> HeldKey:
        """Read the key registry now and look again: after an event signed by the key
        :meth:`emitter` gave was refused as ``retired-key``."""
        self.ledger.refresh_registry()
        return self.current(organisation)

    def _scan(self, organisation: str, generation: int) -> int:
        """The current generation, from ``generation`` (one the registry knows) on."""
        registered = self._registered(organisation, generation)
        if registered is None and generation != 1:
            generation, registered = 1, self._registered(organisation, 1)
        if registered is None:
            raise NotEnabled(self.service, organisation)
        while registered.retired_at is not None:
            following = self._registered(organisation, generation + 1)
            if following is None:
                raise NotEnabled(
                    self.service, organisation, f"its key (generation {generation}) was revoked"
                )
            generation, registered = generation + 1, following
        return generation

    def _registered(self, organisation: str, generation: int) -> RegisteredKey | None:
        found = self.ledger.key(self._key(organisation, generation)[1])
        if found is None or (found.source, found.organisation) != (
            self.service.source(organisation),
            organisation,
        ):
            return None
        return found

    def _key(self, organisation: str, generation: int) -> tuple[SigningKey, str]:
        found = self._keys.get((organisation, generation))
        if found is None:
            key = self.service.signing_key(self.keyring, organisation, generation)
            found = self._keys[(organisation, generation)] = (key, key.key_id)
        return found


# The administrators' side: enable and rotate, as events their key signs.


@dataclass(frozen=True)
class Enabled:
    """What ``enable`` found or did. ``recorded``: whether it registered anything;
    ``missing_types``: types of today's catalogue the service, registered before they
    existed, may not emit (the catalogue has no event that amends a service's types)."""

    key: HeldKey
    recorded: bool
    missing_types: tuple[str, ...]


def enable(
    service: HeldService, administration: Administration, keyring: Keyring, organisation: str
) -> Enabled:
    """Register ``organisation``'s service of this kind and its first key (idempotent).

    Raises ``UnknownOrganisation`` if the organisation is not registered,
    :class:`SourceTaken` if the source is another organisation's, and
    ``AdministrationRefused`` if the ledger refuses an event."""
    source, types = service.source(organisation), service.event_types()
    registered = administration.register_service(source, organisation, service.name, types)
    recorded = registered is not None
    found = _service(administration, source)
    assert found is not None, "registered just now, or before"
    if found.organisation != organisation:
        raise SourceTaken(f"{source} is registered for {found.organisation}")
    generations = _generations(service, found, keyring, organisation)
    if not generations:
        first = service.signing_key(keyring, organisation, 1)
        administration.register_key(
            source, first.public_key, valid_from=datetime.now(UTC) - service.backdating
        )
        recorded, generations = True, [1]
    last = generations[-1]
    key = HeldKey(
        organisation, source, last, service.signing_key(keyring, organisation, last).key_id
    )
    missing = tuple(t for t in types if t not in found.event_types)
    return Enabled(key, recorded, missing)


def rotate(
    service: HeldService,
    administration: Administration,
    keyring: Keyring,
    organisation: str,
    at: datetime | None = None,
) -> HeldKey:
    """Register the next generation of ``organisation``'s key from ``at`` (now): a
    ``key-rotated`` event retiring the current key, or, if the last one was revoked, a
    ``key-registered`` one. Raises :class:`NotEnabled` if it was never enabled."""
    source = service.source(organisation)
    found = _service(administration, source)
    generations = [] if found is None else _generations(service, found, keyring, organisation)
    if found is None or not generations:
        raise NotEnabled(service, organisation)
    last = generations[-1]
    old = service.signing_key(keyring, organisation, last)
    new = service.signing_key(keyring, organisation, last + 1)
    if found.keys[old.key_id] is None:
        administration.rotate_key(source, old.key_id, new.public_key, at=at)
    else:  # revoked: nothing to retire
        administration.register_key(source, new.public_key, valid_from=at)
    return HeldKey(organisation, source, last + 1, new.key_id)


def _service(administration: Administration, source: str) -> Service | None:
    try:
        found = administration.ledger.repository.get(Service.create_id(source))
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, Service) else None


def _generations(
    service: HeldService, registered: Service, keyring: Keyring, organisation: str
) -> list[int]:
    """The generations of the held key registered on ``registered``, in order."""
    found: list[int] = []
    while service.signing_key(keyring, organisation, len(found) + 1).key_id in registered.keys:
        found.append(len(found) + 1)
    return found
