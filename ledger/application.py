"""The ledger application: registrations, and the batched, tracked append.

``Ledger.record`` (and ``record_batch``) is the single place where accepted events,
refusals and the source positions they came from become durable; the invariants of
stateful aggregates are checked there, in submission order (``ledger.recording``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    Transcoder,
)

from ledger.catalogue import (
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    SERVICE_REGISTERED,
    Submission,
)
from ledger.intake import RegisteredKey
from ledger.key_registry import TOPICS as KEY_TOPICS
from ledger.key_registry import KeyDirectory, RegistryTrust
from ledger.keyring import Keyring
from ledger.persistence import DuplicateSubmission, LedgerRecorder
from ledger.recording import (
    MAX_EVENTS_PER_SAVE,
    Batch,
    BatchOutcome,
    Entry,
    Known,
    RefusalFor,
    direct_refusal,
)
from ledger.refusals import RefusalRecord
from ledger.settings import Settings
from ledger.transcoding import LedgerTranscoder, ledger_transcoder
from ledger.vault import Vault

# Seconds a process trusts its copy of the key registry before re-reading the log.
REGISTRY_MAX_AGE = 1.0
# After a resend, how long batches read which submissions are recorded before saving.
CHECK_KNOWN_SECONDS = 10.0
KEY_EVENT_TYPES = frozenset({SERVICE_REGISTERED, KEY_REGISTERED, KEY_ROTATED, KEY_REVOKED})


# Reads facts as ``fact_change`` writes them: eventsourcing's JSON transcoder (with the
# transcodings every application registers), no compressor, no cipher.
_JSON_MAPPER: Mapper[UUID] = Mapper(transcoder=ledger_transcoder())


def _plain_json(mapper: Mapper[UUID]) -> bool:
    """Whether the mapper stores events exactly as ``fact_change`` builds them."""
    return type(mapper.transcoder) in (JSONTranscoder, LedgerTranscoder)


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

    def __init__(
        self,
        env: dict[str, str] | None = None,
        trust: RegistryTrust | None = None,
        vault: Vault | None = None,
    ) -> None:
        """``trust``: what the key registry trusts (the administrators' key); without it,
        no key at all (a ledger that only reads). ``vault``: what seals and opens the
        personal values of stored events (``ledger.vault``); without it, the ledger can
        neither store an event nor read one that holds personal values."""
        super().__init__(env)
        self.ledger_recorder.vault = vault
        self.vault = vault
        self.trust = trust
        self._directory = KeyDirectory(trust)
        self._registry_position = 0
        self._registry_read_at = 0.0
        self._registry_lock = threading.Lock()
        self._check_known_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        from ledger.administration import registry_trust

        return cls(
            eventsourcing_env(settings.database_url),
            registry_trust(settings),
            Keyring.from_settings(settings).vault(),
        )

    def construct_transcoder(self) -> Transcoder:
        """JSON as eventsourcing writes it, read with orjson (``ledger.transcoding``)."""
        return ledger_transcoder()

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def ledger_recorder(self) -> LedgerRecorder:
        assert isinstance(self.recorder, LedgerRecorder)
        return self.recorder

    # The key registry the intake verifies against.

    def key(self, key_id: str) -> RegisteredKey | None:
        """The registered key; the log is re-read when the key is unknown, and at most
        every ``REGISTRY_MAX_AGE`` seconds, so rotations and revocations take effect."""
        if time.monotonic() - self._registry_read_at > REGISTRY_MAX_AGE:
            self.refresh_registry()
        found = self._directory.get(key_id)
        if found is None:
            self.refresh_registry()
            found = self._directory.get(key_id)
        return found

    def organisation_of(self, source: str) -> str | None:
        """The organisation of a registered service (the registry is re-read if needed)."""
        found = self._directory.organisation_of(source)
        if found is None:
            self.refresh_registry()
            found = self._directory.organisation_of(source)
        return found

    @property
    def registry_position(self) -> int:
        """How far into the log the key registry has read."""
        return self._registry_position

    @property
    def untrusted(self) -> list[str]:
        """Registry events in the log that no trusted key signed (ignored)."""
        return self._directory.untrusted

    def refresh_registry(self) -> None:
        """Apply key events recorded since the last refresh, up to the log's head.

        The position advances to the head even when no key event was found: positions
        become visible in commit order (every append holds the events table's lock), so
        nothing can appear below the head later, and the next refresh reads only what is
        new instead of everything since the last key change.
        """
        with self._registry_lock:
            self._registry_read_at = time.monotonic()
            head = self.recorder.max_notification_id() or 0
            while self._registry_position < head:
                notifications = self.recorder.select_notifications(
                    start=self._registry_position + 1, limit=10_000, stop=head, topics=KEY_TOPICS
                )
                for notification in notifications:
                    self._directory.apply(self.mapper.to_domain_event(notification))
                if len(notifications) < 10_000:
                    self._registry_position = head
                else:
                    self._registry_position = notifications[-1].id

    # The write path.

    def record(
        self,
        submissions: Sequence[Submission],
        refusals: Sequence[RefusalRecord] = (),
        trackings: Sequence[Tracking] = (),
    ) -> list[int]:
        """Append new submissions, refusals and source positions, atomically per batch.

        Duplicates (same source and id) are skipped. Returns the ledger positions of
        what was appended. See :meth:`record_batch` for the outcome of each submission.
        """
        return self.record_batch(submissions, refusals, trackings).appended

    def record_batch(
        self,
        submissions: Sequence[Submission],
        refusals: Sequence[RefusalRecord] = (),
        trackings: Sequence[Tracking] = (),
        refusal_for: RefusalFor | None = None,
    ) -> BatchOutcome:
        """Apply submissions in order, checking invariants; store refusals and positions.

        A submission that breaks an invariant is refused (``invariant-violated``) and
        stored as a refusal built by ``refusal_for(index, refusal)``.
        """
        if len(submissions) > MAX_EVENTS_PER_SAVE:
            raise ValueError(f"one transaction carries at most {MAX_EVENTS_PER_SAVE} events")
        if refusal_for is None:
            refusal_for = lambda i, refusal: direct_refusal(submissions[i], refusal)  # noqa: E731
        # Resends are rare: skip reading which submissions are already recorded and let
        # the primary key catch one; after it does, check first for a while (resends
        # come in bursts, from a service retrying).
        check_known = time.monotonic() < self._check_known_until
        try:
            outcome = Batch(self, refusal_for, check_known=check_known).record(
                submissions, refusals, trackings
            )
        except DuplicateSubmission:
            self._check_known_until = time.monotonic() + CHECK_KNOWN_SECONDS
            outcome = Batch(self, refusal_for).record(submissions, refusals, trackings)
        if any(s.event_type in KEY_EVENT_TYPES for s in submissions):
            self.refresh_registry()
        return outcome

    # What a batch needs (recording.Store).

    def get(self, aggregate_id: UUID) -> Aggregate:
        return self.repository.get(aggregate_id)

    def save_batch(self, entries: Sequence[Entry], **kwargs: Any) -> dict[tuple[UUID, int], int]:
        """Record aggregates' pending events and facts (already stored events), with the
        recorder's extra rows, in one transaction; positions by (originator id, version).

        What ``Application.save`` does for this application (its notification hooks are
        not used) without its per-object runtime protocol checks, ~7% of ingest time;
        with an aggregate cache or snapshots configured, the full save runs."""
        if self.repository.cache is not None or self.snapshots is not None:
            objs: list[Any] = []
            for entry in entries:
                if isinstance(entry, StoredEvent):
                    event = self._fact_event(entry)
                    objs += [event, event.mutate(None)]  # the event, and its aggregate to cache
                else:
                    objs.append(entry)
            recordings = self.save(*objs, **kwargs)  # they need the full save
            return {
                (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
                for r in recordings
            }
        stored: list[StoredEvent] = []
        for entry in entries:
            if isinstance(entry, StoredEvent):
                stored.append(self._fact_stored(entry))
            else:
                stored.extend(map(self.mapper.to_stored_event, entry.collect_events()))
        positions = self.recorder.insert_events(stored, **kwargs) or []
        return {
            (cast(UUID, e.originator_id), e.originator_version): position
            for e, position in zip(stored, positions, strict=True)
        }

    def _fact_event(self, fact: StoredEvent) -> Any:
        return _JSON_MAPPER.to_domain_event(fact)

    def _fact_stored(self, fact: StoredEvent) -> StoredEvent:
        """A fact as this application stores events: facts are built in the JSON
        transcoder's form, without compression or encryption (``fact_change``)."""
        mapper = self.mapper
        if mapper.compressor is None and mapper.cipher is None and _plain_json(mapper):
            return fact
        return mapper.to_stored_event(self._fact_event(fact))

    def submitted(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        return self.ledger_recorder.submitted(keys)
