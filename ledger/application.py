"""The ledger application: registrations, and the batched, tracked append.

``Ledger.record`` is the single place where accepted events, refusals and the source
positions they came from become durable, in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder, Tracking
from eventsourcing.utils import get_topic

from ledger import signing
from ledger.domain.registry import Organisation, Service
from ledger.intake import RegisteredKey, utcnow
from ledger.persistence import LedgerRecorder, RefusalRow
from ledger.settings import Settings

# The eventsourcing 9.5.6 + psycopg 3.3.9 pipeline can deadlock when one save carries
# more than ~0.45 MB; DESIGN.md "Known defect". Never let one save exceed this.
MAX_EVENTS_PER_SAVE = 250

REGISTRY_TOPICS = [
    get_topic(Organisation.Registered),
    get_topic(Service.Registered),
    get_topic(Service.KeyRegistered),
]


class UnknownService(LookupError):
    """No service is registered with that source."""


def eventsourcing_env(database_url: str) -> dict[str, str]:
    """The eventsourcing environment for a PostgreSQL DSN."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "ledger.persistence",
        "POSTGRES_DBNAME": str(info.get("dbname", "postgres")),
        "POSTGRES_HOST": str(info.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(info.get("port", "5432")),
        "POSTGRES_USER": str(info.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(info.get("password", "")),
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "4",
    }


class Ledger(Application[UUID]):
    """The system of record."""

    name = "ledger"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._keys: dict[str, RegisteredKey] = {}
        self._registry_position = 0
        self._registry_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        return cls(eventsourcing_env(settings.database_url))

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def ledger_recorder(self) -> LedgerRecorder:
        assert isinstance(self.recorder, LedgerRecorder)
        return self.recorder

    # Registrations (administration).

    def register_organisation(self, code: str, name: str) -> UUID:
        try:
            return self.repository.get(Organisation.create_id(code)).id
        except AggregateNotFoundError:
            organisation = Organisation(code=code, name=name)
            self.save(organisation)
            return organisation.id

    def register_service(
        self, source: str, organisation: str, name: str, event_types: Sequence[str]
    ) -> UUID:
        try:
            return self.repository.get(Service.create_id(source)).id
        except AggregateNotFoundError:
            pass
        self.repository.get(Organisation.create_id(organisation))  # must exist
        service = Service(
            source=source, organisation=organisation, name=name, event_types=list(event_types)
        )
        self.save(service)
        return service.id

    def register_key(
        self, source: str, public_key: bytes, valid_from: datetime | None = None
    ) -> str:
        try:
            service: Service = self.repository.get(Service.create_id(source))
        except AggregateNotFoundError:
            raise UnknownService(source) from None
        key_id = signing.key_id_for(public_key)
        if key_id not in service.keys:
            service.register_key(key_id, public_key.hex(), valid_from or utcnow())
            self.save(service)
        return key_id

    # The key registry the intake verifies against.

    def key(self, key_id: str) -> RegisteredKey | None:
        """The registered key, refreshing from the log once if it is not yet known."""
        found = self._keys.get(key_id)
        if found is None:
            self.refresh_registry()
            found = self._keys.get(key_id)
        return found

    def refresh_registry(self) -> None:
        with self._registry_lock:
            services: dict[str, Any] = {}
            for notification in self.recorder.select_notifications(
                start=self._registry_position + 1, limit=10_000, topics=REGISTRY_TOPICS
            ):
                self._registry_position = notification.id
                domain_event = self.mapper.to_domain_event(notification)
                if isinstance(domain_event, Service.KeyRegistered):
                    service = services.get(str(domain_event.originator_id)) or self.repository.get(
                        domain_event.originator_id
                    )
                    services[str(domain_event.originator_id)] = service
                    public_key = bytes.fromhex(domain_event.public_key)  # type: ignore[attr-defined]
                    self._keys[domain_event.key_id] = RegisteredKey(  # type: ignore[attr-defined]
                        key_id=domain_event.key_id,  # type: ignore[attr-defined]
                        public_key=public_key,
                        source=service.source,
                        organisation=service.organisation,
                        event_types=frozenset(service.event_types),
                        valid_from=domain_event.valid_from,  # type: ignore[attr-defined]
                    )

    # The write path.

    def record(
        self,
        aggregates: Sequence[Aggregate],
        refusals: Sequence[RefusalRow] = (),
        trackings: Sequence[Tracking] = (),
    ) -> list[int]:
        """Append new aggregates, refusals and source positions in one transaction.

        Aggregates already recorded (duplicates) are skipped. Returns the ledger
        positions of what was appended.
        """
        if len(aggregates) > MAX_EVENTS_PER_SAVE:
            raise ValueError(f"one transaction carries at most {MAX_EVENTS_PER_SAVE} events")
        unique: dict[UUID, Aggregate] = {}
        for aggregate in aggregates:
            unique.setdefault(aggregate.id, aggregate)
        already = self.ledger_recorder.existing(list(unique))
        fresh = [a for a in unique.values() if a.id not in already]
        recordings = self.save(*fresh, trackings=list(trackings), refusals=list(refusals))
        return [r.notification.id for r in recordings]
