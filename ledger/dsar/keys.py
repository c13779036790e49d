"""The DSAR service key: what signs the events officers cause through the API.

An organisation that opts in (``ledger dsar enable ORG``) has a service of its own for
its subject access request team, ``urn:ledger:service:<org>:dsar``, registered by the
administrators (events their key signs) for every type of the catalogue whose name
starts ``uk.gov.ledger.sar-`` or ``uk.gov.ledger.query-``, as the catalogue stands when
it is enabled. Its signing key is held by the ledger, and nothing of it is stored: the
seed of generation ``g`` is derived from the ledger secret,
``BLAKE2b(key=Keyring.derive(b"dsar-service"), "dsar-service\\n<ORG>\\n<g>")``, so every
API process holding the secret derives the same key, and nobody without it can.

A rotation (``ledger dsar rotate ORG``) registers generation ``g + 1`` with an
administrators' ``key-rotated`` event: the old key is retired from that event's time
(what it signed before stays valid). The API never reads the generation from its
configuration: :class:`DsarSigners` finds it in the key registry (the keys the log
vouches for) and notices a rotation within the registry's refresh interval, or at once
through :meth:`DsarSigners.refresh` after a refusal for a retired key.

Imports no adapter: the ledger is passed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from eventsourcing.application import AggregateNotFoundError
from ledger_emitter import Emitter, SigningKey

from ledger.administration import Administration
from ledger.catalogue import CATALOGUE, PREFIX
from ledger.domain.registry import Service
from ledger.intake import RegisteredKey
from ledger.keyring import Keyring

DSAR_TYPE_PREFIXES = (PREFIX + "sar-", PREFIX + "query-")
SERVICE_NAME = "Subject access request team"
# Keyring.derive takes a purpose of at most 16 bytes; organisation codes are up to 32
# characters, so the label keys a second derivation.
_PURPOSE = b"dsar-service"


def dsar_source(organisation: str) -> str:
    """The source of ``organisation``'s DSAR service: ``urn:ledger:service:dwp:dsar``."""
    return f"urn:ledger:service:{organisation.lower()}:dsar"


def dsar_event_types() -> list[str]:
    """What a DSAR service may emit: the catalogue's ``sar-`` and ``query-`` types."""
    return sorted(name for name in CATALOGUE if name.startswith(DSAR_TYPE_PREFIXES))


def dsar_signing_key(keyring: Keyring, organisation: str, generation: int) -> SigningKey:
    """Generation ``generation`` of ``organisation``'s DSAR key, derived from the secret."""
    label = f"dsar-service\n{organisation}\n{generation}".encode()
    seed = hashlib.blake2b(label, key=keyring.derive(_PURPOSE), digest_size=32).digest()
    return SigningKey(seed)


class DsarNotEnabled(LookupError):
    """``organisation`` holds no usable DSAR service key (never enabled, or revoked)."""

    def __init__(self, organisation: str, detail: str = "DSAR is not enabled for it") -> None:
        super().__init__(f"{organisation} holds no DSAR service key: {detail}")
        self.organisation = organisation
        self.detail = detail


class DsarSourceTaken(Exception):
    """The DSAR service's source is registered already, for another organisation."""


@dataclass(frozen=True)
class DsarKey:
    """An organisation's current DSAR service key, as the key registry holds it."""

    organisation: str
    source: str
    generation: int
    key_id: str


class KeyLookup(Protocol):
    """What :class:`DsarSigners` reads of the ledger (``ledger.application.Ledger``)."""

    def key(self, key_id: str) -> RegisteredKey | None: ...
    def refresh_registry(self) -> None: ...


class DsarSigners:
    """The emitters of DSAR teams, each signing with its organisation's current key.

    The generation in use is cached per organisation and checked against the registry
    on every call (which re-reads the log at most every
    ``ledger.application.REGISTRY_MAX_AGE`` seconds): once the registry says the key
    was retired, the next generation is looked up. Safe to share between threads: two
    that look at once find the same key, and no lock is held while the registry is read.
    """

    def __init__(self, ledger: KeyLookup, keyring: Keyring) -> None:
        self.ledger = ledger
        self.keyring = keyring
        self._generation: dict[str, int] = {}
        # (organisation, generation) -> the key and its id (the SDK derives the id anew
        # on every call: twice the cost of the rest of a call here).
        self._keys: dict[tuple[str, int], tuple[SigningKey, str]] = {}

    def emitter(self, organisation: str) -> Emitter:
        """An emitter (no transport) signing as ``organisation``'s DSAR team; raises
        :class:`DsarNotEnabled` if it holds no usable key."""
        current = self.current(organisation)
        return Emitter(current.source, self._key(organisation, current.generation)[0])

    def enabled(self, organisation: str) -> bool:
        """Whether ``organisation`` holds a usable DSAR service key."""
        try:
            self.current(organisation)
        except DsarNotEnabled:
            return False
        return True

    def current(self, organisation: str) -> DsarKey:
        """``organisation``'s current DSAR key; raises :class:`DsarNotEnabled`."""
        generation = self._scan(organisation, self._generation.get(organisation, 1))
        self._generation[organisation] = generation
        return DsarKey(
            organisation,
            dsar_source(organisation),
            generation,
            self._key(organisation, generation)[1],
        )

    def refresh(self, organisation: str) -> DsarKey:
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
            raise DsarNotEnabled(organisation)
        while registered.retired_at is not None:
            following = self._registered(organisation, generation + 1)
            if following is None:
                raise DsarNotEnabled(organisation, f"its key (generation {generation}) was revoked")
            generation, registered = generation + 1, following
        return generation

    def _registered(self, organisation: str, generation: int) -> RegisteredKey | None:
        found = self.ledger.key(self._key(organisation, generation)[1])
        if found is None or (found.source, found.organisation) != (
            dsar_source(organisation),
            organisation,
        ):
            return None
        return found

    def _key(self, organisation: str, generation: int) -> tuple[SigningKey, str]:
        found = self._keys.get((organisation, generation))
        if found is None:
            key = dsar_signing_key(self.keyring, organisation, generation)
            found = self._keys[(organisation, generation)] = (key, key.key_id)
        return found


# The administrators' side: enable and rotate, as events their key signs.


@dataclass(frozen=True)
class Enabled:
    """What ``enable`` found or did. ``recorded``: whether it registered anything;
    ``missing_types``: DSAR types of today's catalogue the service, registered before
    they existed, may not emit (the catalogue has no event that amends a service's
    types)."""

    key: DsarKey
    recorded: bool
    missing_types: tuple[str, ...]


# How far back the first DSAR key is valid: how far back officers may record a case's facts.
BACKDATING = timedelta(days=366)


def enable(administration: Administration, keyring: Keyring, organisation: str) -> Enabled:
    """Register ``organisation``'s DSAR service and its first key (idempotent).

    Raises ``UnknownOrganisation`` if the organisation is not registered,
    :class:`DsarSourceTaken` if the source is another organisation's, and
    ``AdministrationRefused`` if the ledger refuses an event."""
    source, types = dsar_source(organisation), dsar_event_types()
    registered = administration.register_service(source, organisation, SERVICE_NAME, types)
    recorded = registered is not None
    service = _service(administration, source)
    assert service is not None, "registered just now, or before"
    if service.organisation != organisation:
        raise DsarSourceTaken(f"{source} is registered for {service.organisation}")
    generations = _generations(service, keyring, organisation)
    if not generations:
        first = dsar_signing_key(keyring, organisation, 1)
        # Valid from a year back: officers record when things happened (a request that
        # came by post last week, a case open when the organisation adopted the ledger).
        administration.register_key(
            source, first.public_key, valid_from=datetime.now(UTC) - BACKDATING
        )
        recorded, generations = True, [1]
    last = generations[-1]
    key = DsarKey(organisation, source, last, dsar_signing_key(keyring, organisation, last).key_id)
    missing = tuple(t for t in types if t not in service.event_types)
    return Enabled(key, recorded, missing)


def rotate(
    administration: Administration,
    keyring: Keyring,
    organisation: str,
    at: datetime | None = None,
) -> DsarKey:
    """Register the next generation of ``organisation``'s DSAR key from ``at`` (now):
    a ``key-rotated`` event retiring the current key, or, if the last one was revoked,
    a ``key-registered`` one. Raises :class:`DsarNotEnabled` if it was never enabled."""
    source = dsar_source(organisation)
    service = _service(administration, source)
    generations = [] if service is None else _generations(service, keyring, organisation)
    if service is None or not generations:
        raise DsarNotEnabled(organisation)
    last = generations[-1]
    old = dsar_signing_key(keyring, organisation, last)
    new = dsar_signing_key(keyring, organisation, last + 1)
    if service.keys[old.key_id] is None:
        administration.rotate_key(source, old.key_id, new.public_key, at=at)
    else:  # revoked: nothing to retire
        administration.register_key(source, new.public_key, valid_from=at)
    return DsarKey(organisation, source, last + 1, new.key_id)


def _service(administration: Administration, source: str) -> Service | None:
    try:
        found = administration.ledger.repository.get(Service.create_id(source))
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, Service) else None


def _generations(service: Service, keyring: Keyring, organisation: str) -> list[int]:
    """The generations of the DSAR key registered on ``service``, in order."""
    found: list[int] = []
    while dsar_signing_key(keyring, organisation, len(found) + 1).key_id in service.keys:
        found.append(len(found) + 1)
    return found
