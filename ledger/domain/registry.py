"""Who may emit: organisations, their services, and the services' signing keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import natural_id


class Organisation(Aggregate):
    """A public body, known by a short code (e.g. ``DWP``) and its plain-English name."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return natural_id("organisation", code)

    @event("Registered")
    def __init__(self, code: str, name: str) -> None:
        self.code = code
        self.name = name


class KeyNotUsable(ValueError):
    """A key cannot be registered or revoked in the service's current state."""


class Service(Aggregate):
    """A system of a public body that emits signed events, identified by its ``source``."""

    @staticmethod
    def create_id(source: str) -> UUID:
        return natural_id("service", source)

    @event("Registered")
    def __init__(self, source: str, organisation: str, name: str, event_types: list[str]) -> None:
        self.source = source
        self.organisation = organisation
        self.name = name
        self.event_types = event_types
        self.keys: dict[str, datetime | None] = {}

    def register_key(self, key_id: str, public_key: str, valid_from: datetime) -> None:
        if key_id in self.keys:
            raise KeyNotUsable(f"key {key_id} is already registered for {self.source}")
        self._key_registered(key_id=key_id, public_key=public_key, valid_from=valid_from)

    @event("KeyRegistered")
    def _key_registered(self, key_id: str, public_key: str, valid_from: datetime) -> None:
        self.keys[key_id] = None
