"""The administrators: the ledger's root of trust, and what they do through it.

Every event in the log carries a signature that checks back to one key the operator
configures: the **administrators' key**. Administrators sign the registrations of
organisations, services, keys and data sharing agreements with it (CloudEvents of the
catalogue's own types, from :data:`ADMIN_SOURCE`), recorded through the one write path
like every other event; the services' keys they register sign everything else. So a
key or an event inserted into the database by hand, even sealed into the log, is
signed by nothing the registry trusts: the intake never trusts it, and
``ledger verify --audit`` names it.

The key's public half is ``LEDGER_ADMIN_PUBLIC_KEY`` (every process); its private half
stays with the administrators (``--admin-key FILE`` on the commands that register). In
development both are derived from the ledger secret, so ``make run`` works alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from ledger_emitter import Emitter, SigningKey, b64url, b64url_decode, canonical, key_id_for

from ledger.catalogue import (
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    ORGANISATION_REGISTERED,
    SERVICE_REGISTERED,
)
from ledger.catalogue.agreements import AGREEMENT_AMENDED, AGREEMENT_ENDED, AGREEMENT_REGISTERED
from ledger.domain.agreement import DataSharingAgreement
from ledger.domain.registry import Organisation, Service
from ledger.incoming import Direct, Incoming, Outcome, Status
from ledger.intake import RegisteredKey
from ledger.key_registry import EVERY_ORGANISATION, RegistryTrust
from ledger.keyring import Keyring
from ledger.nations import ENGLAND_AND_WALES
from ledger.refusals import Refusal
from ledger.settings import Settings, SettingsError

ADMIN_SOURCE = "urn:ledger:administration"
# The organisation the administrators' key speaks for: every one.
ADMINISTRATORS = EVERY_ORGANISATION
ADMIN_TYPES = frozenset(
    {
        ORGANISATION_REGISTERED,
        SERVICE_REGISTERED,
        KEY_REGISTERED,
        KEY_ROTATED,
        KEY_REVOKED,
        AGREEMENT_REGISTERED,
        AGREEMENT_AMENDED,
        AGREEMENT_ENDED,
    }
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UnknownOrganisation(LookupError):
    """A service names an organisation that is not registered."""


class AdministrationRefused(Exception):
    """The ledger refused an administrators' event; ``refusal`` says why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def admin_public_key(settings: Settings) -> bytes:
    """The root of trust: ``LEDGER_ADMIN_PUBLIC_KEY``, or the development key."""
    if settings.admin_public_key:
        try:
            key = b64url_decode(settings.admin_public_key)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise SettingsError("LEDGER_ADMIN_PUBLIC_KEY must be a base64url Ed25519 key")
        return key
    return dev_admin_key(settings).public_key


def dev_admin_key(settings: Settings) -> SigningKey:
    """The development administrators' key, derived from the secret (never in production)."""
    if settings.env == "production":
        raise SettingsError(
            "LEDGER_ADMIN_PUBLIC_KEY must be set in production, and the administrators' "
            "key given with --admin-key"
        )
    return SigningKey(Keyring.from_settings(settings).derive(b"administrators"))


def admin_signing_key(settings: Settings, key_file: Path | None) -> SigningKey:
    """The administrators' signing key: from ``key_file`` (a seed, hex), else the
    development key; it must be the key the ledger trusts."""
    key = (
        SigningKey(bytes.fromhex(key_file.read_text().strip()))
        if key_file is not None
        else dev_admin_key(settings)
    )
    if key.public_key != admin_public_key(settings):
        raise SettingsError("that is not the administrators' key this ledger trusts")
    return key


def trusted_admin_key(public_key: bytes) -> RegisteredKey:
    """The administrators' key as the key registry holds it: for every organisation,
    for the administration types only."""
    return RegisteredKey(
        key_id=key_id_for(public_key),
        public_key=public_key,
        source=ADMIN_SOURCE,
        organisation=ADMINISTRATORS,
        event_types=ADMIN_TYPES,
        valid_from=_EPOCH,
    )


def registry_trust(settings: Settings) -> RegistryTrust:
    """What the ledger's key registry trusts: the administrators' key, and what it signs."""
    return RegistryTrust(
        Keyring.from_settings(settings), trusted_admin_key(admin_public_key(settings))
    )


class Administration:
    """Registrations, as events the administrators sign, through the one write path.

    Registering what is already registered records nothing (``None``): registering is
    idempotent. A refusal raises :class:`AdministrationRefused`."""

    def __init__(self, write_path: Any, key: SigningKey) -> None:
        self.write_path = write_path
        self.ledger = write_path.ledger
        self.emitter = Emitter(ADMIN_SOURCE, key)

    @classmethod
    def from_settings(cls, settings: Settings, key_file: Path | None = None) -> Administration:
        """The administrators acting on the ledger ``settings`` name, with the key in
        ``key_file`` (in development: the derived key); :meth:`close` when done."""
        from ledger.writing import WritePath

        return cls(WritePath.from_settings(settings), admin_signing_key(settings, key_file))

    def close(self) -> None:
        self.write_path.close()

    def register_organisation(
        self, code: str, name: str, nation: str = ENGLAND_AND_WALES
    ) -> Outcome | None:
        """Register a public body; ``nation`` is one of ``ledger.nations.NATIONS``."""
        if self._exists(Organisation.create_id(code)):
            return None
        data = {"organisation": {"code": code, "name": name, "nation": nation}}
        return self._record(ORGANISATION_REGISTERED, data)

    def register_service(
        self, source: str, organisation: str, name: str, event_types: Sequence[str]
    ) -> Outcome | None:
        if self._exists(Service.create_id(source)):
            return None
        if not self._exists(Organisation.create_id(organisation)):
            raise UnknownOrganisation(organisation)
        service = {
            "source": source,
            "organisation": organisation,
            "name": name,
            "event_types": sorted(event_types),
        }
        return self._record(SERVICE_REGISTERED, {"service": service})

    def register_key(
        self, source: str, public_key: bytes, valid_from: datetime | None = None
    ) -> Outcome | None:
        service = self._get(Service.create_id(source))
        if isinstance(service, Service) and key_id_for(public_key) in service.keys:
            return None
        data: dict[str, Any] = {"service": source, "public_key": b64url(public_key)}
        if valid_from is not None:
            data["valid_from"] = _instant(valid_from)
        return self._record(KEY_REGISTERED, data)

    def rotate_key(
        self, source: str, old_key_id: str, public_key: bytes, at: datetime | None = None
    ) -> Outcome:
        data = {"service": source, "old_key_id": old_key_id, "public_key": b64url(public_key)}
        return self._record(KEY_ROTATED, data, at=at)

    def revoke_key(
        self, source: str, key_id: str, reason: str, at: datetime | None = None
    ) -> Outcome:
        data = {"service": source, "key_id": key_id, "reason": reason}
        return self._record(KEY_REVOKED, data, at=at)

    def register_agreement(
        self, terms: dict[str, Any], at: datetime | None = None
    ) -> Outcome | None:
        """Register a data sharing agreement (``terms`` as the agreement-registered type
        says, its ``reference`` included)."""
        if self._exists(DataSharingAgreement.create_id(terms["reference"])):
            return None
        return self._record(AGREEMENT_REGISTERED, {"agreement": terms}, at=at)

    def _get(self, aggregate_id: uuid.UUID) -> Any:
        try:
            return self.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _exists(self, aggregate_id: uuid.UUID) -> bool:
        return self._get(aggregate_id) is not None

    def _record(self, kind: str, data: dict[str, Any], at: datetime | None = None) -> Outcome:
        event = self.emitter.build(kind, data, event_id=str(uuid.uuid4()), time=at)
        (outcome,) = self.write_path.submit([Incoming(canonical(event), Direct())])
        if outcome.status is Status.REFUSED:
            assert outcome.refusal is not None
            raise AdministrationRefused(outcome.refusal)
        return outcome


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
