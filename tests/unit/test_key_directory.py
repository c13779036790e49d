"""The key directory folds the registry's events so that a key stays its first service's:
another service that registers, rotates to or revokes the same public key changes
nothing about it (a public key is public; the intake refuses the attempt, and this holds
for what was recorded before it did)."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger_emitter import SigningKey

from ledger.domain.registry import Service
from ledger.key_registry import KeyDirectory

AT = datetime(2026, 11, 2, tzinfo=UTC)
KEY = SigningKey(b"\x07" * 32)


def service(source: str, organisation: str) -> Service:
    return Service(source=source, organisation=organisation, name=source, event_types=[])


def fold(directory: KeyDirectory, *services: Service) -> None:
    for each in services:
        for event in each.collect_events():
            directory.apply(event)


def test_a_key_registered_again_by_another_service_stays_with_the_first() -> None:
    directory = KeyDirectory()
    owner, other = service("urn:dwp", "DWP"), service("urn:hmrc", "HMRC")
    owner.register_key(KEY.key_id, KEY.public_key.hex(), AT)
    other.register_key(KEY.key_id, KEY.public_key.hex(), AT)
    fold(directory, owner, other)

    key = directory.get(KEY.key_id)
    assert key is not None and (key.source, key.organisation) == ("urn:dwp", "DWP")


def test_another_service_cannot_retire_a_key_it_does_not_hold() -> None:
    directory = KeyDirectory()
    owner, other = service("urn:dwp", "DWP"), service("urn:hmrc", "HMRC")
    owner.register_key(KEY.key_id, KEY.public_key.hex(), AT)
    fold(directory, owner)
    other.register_key(KEY.key_id, KEY.public_key.hex(), AT)  # recorded, not honoured
    other.revoke_key(KEY.key_id, AT, "taken over")
    fold(directory, other)

    key = directory.get(KEY.key_id)
    assert key is not None and key.retired_at is None and not key.revoked
