"""Shares of citizens' data between organisations, as reported by a party to the share."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import submission_id

# A bulk share lists at most this many subjects per event; larger shares are split into
# parts (``part``) or carry only a manifest hash and count (``manifest``).
MAX_SUBJECTS_PER_SHARE = 1000


class DataShare(Aggregate):
    """One share of data about one or more citizens, from one organisation to another.

    A fact, recorded once and never changed; the id derives from (source, event id).
    Recorded even when no agreement, consent or opt-out permits it: findings about
    policy are drawn from the record, not by refusing it.
    """

    class Recorded(Aggregate.Created):
        source: str
        event_id: str
        occurred_at: datetime
        reporter: str
        subject_keys: list[str]
        subject_count: int
        manifest_sha256: str | None
        part: dict[str, Any] | None
        sender: str
        recipient: str
        purpose: dict[str, Any]
        lawful_basis: dict[str, Any]
        legal_gateway: dict[str, Any] | None
        agreement: str | None
        data_categories: list[dict[str, Any]]
        retention: dict[str, Any]
        international_transfer: dict[str, Any] | None
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
        reporter: str,
        subject_keys: list[str],
        subject_count: int,
        manifest_sha256: str | None,
        part: dict[str, Any] | None,
        sender: str,
        recipient: str,
        purpose: dict[str, Any],
        lawful_basis: dict[str, Any],
        legal_gateway: dict[str, Any] | None,
        agreement: str | None,
        data_categories: list[dict[str, Any]],
        retention: dict[str, Any],
        international_transfer: dict[str, Any] | None,
        envelope_sha256: str,
        envelope_sealed: str,
    ) -> None:
        self.source = source
        self.event_id = event_id
        self.occurred_at = occurred_at
        self.subject_keys = subject_keys
        self.subject_count = subject_count
        self.sender = sender
        self.recipient = recipient
        self.agreement = agreement
        self.envelope_sha256 = envelope_sha256
