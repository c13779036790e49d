"""Accesses to a citizen's record, as reported by the accessing service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import submission_id


class DataAccess(Aggregate):
    """One access by an official to one citizen's record.

    A fact, recorded once and never changed; the id derives from (source, event id), the
    idempotency key of the submission.
    """

    class Recorded(Aggregate.Created):
        source: str
        event_id: str
        occurred_at: datetime
        subject_keys: list[str]
        organisation: str
        role: str
        official_key: str | None
        system: str
        record: str
        data_categories: list[dict[str, Any]]
        purpose: dict[str, Any]
        lawful_basis: dict[str, Any]
        action: str
        break_glass: bool
        envelope_sha256: str
        envelope_sealed: str

    @staticmethod
    def create_id(source: str, event_id: str) -> UUID:
        return submission_id(source, event_id)

    @event(Recorded)
    def __init__(
        self,
        source: str,
        event_id: str,
        occurred_at: datetime,
        subject_keys: list[str],
        organisation: str,
        role: str,
        official_key: str | None,
        system: str,
        record: str,
        data_categories: list[dict[str, Any]],
        purpose: dict[str, Any],
        lawful_basis: dict[str, Any],
        action: str,
        break_glass: bool,
        envelope_sha256: str,
        envelope_sealed: str,
    ) -> None:
        self.source = source
        self.event_id = event_id
        self.occurred_at = occurred_at
        self.subject_keys = subject_keys
        self.organisation = organisation
        self.action = action
        self.envelope_sha256 = envelope_sha256
