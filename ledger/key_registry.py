"""The signing keys the intake verifies against, folded from the registry's events.

Kept in memory and brought up to date from the notification log: on a key not yet
known, and at most every ``max_age`` seconds otherwise, so a rotation or revocation
recorded by any process takes effect everywhere within that time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.utils import get_topic

from ledger.domain.registry import Service
from ledger.intake import RegisteredKey

TOPICS = [
    get_topic(Service.Registered),
    get_topic(Service.KeyRegistered),
    get_topic(Service.KeyRotated),
    get_topic(Service.KeyRevoked),
]


class KeyDirectory:
    """Key id -> :class:`RegisteredKey`, with each key's service and validity."""

    def __init__(self) -> None:
        self.keys: dict[str, RegisteredKey] = {}
        self._services: dict[Any, Service.Registered] = {}

    def get(self, key_id: str) -> RegisteredKey | None:
        return self.keys.get(key_id)

    def organisation_of(self, source: str) -> str | None:
        """The organisation of the registered service ``source``."""
        return next((s.organisation for s in self._services.values() if s.source == source), None)

    def apply(self, event: Any) -> None:
        """Fold one registry event (events of other kinds are ignored)."""
        if isinstance(event, Service.Registered):
            self._services[event.originator_id] = event
        elif isinstance(event, Service.KeyRegistered):
            self._add(event.originator_id, event.key_id, event.public_key, event.valid_from)
        elif isinstance(event, Service.KeyRotated):
            self._retire(event.originator_id, event.old_key_id, event.at, revoked=False)
            self._add(event.originator_id, event.key_id, event.public_key, event.at)
        elif isinstance(event, Service.KeyRevoked):
            self._retire(event.originator_id, event.key_id, event.at, revoked=True)

    def _add(self, service_id: Any, key_id: str, public_key: str, valid_from: Any) -> None:
        service: Any = self._services[service_id]
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
        if key is None or key.source != self._services[service_id].source:
            return  # only the service that holds a key retires it
        retired_at = at if key.retired_at is None else min(key.retired_at, at)
        self.keys[key_id] = dataclasses.replace(
            key, retired_at=retired_at, revoked=key.revoked or revoked
        )
