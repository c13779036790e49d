"""What the ledger itself saw go wrong at a service: kept in the log, like the facts.

A service that reuses an event id for other content would otherwise erase an audit
record without a trace: the resend is refused, and this fact records that it happened,
so the compliance findings name the organisation.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event


class ResendConflict(Aggregate):
    """One submission refused because its (source, id) was recorded with other content.

    Holds the source, the id, the organisation, the SHA-256 of what the refused resend
    said, and the resend itself, sealed as every received envelope is: its signature is
    the service's, so ``ledger verify --audit`` checks this fact back to the root of trust
    like any other.
    """

    class Recorded(Aggregate.Created):
        source: str
        event_id: str
        organisation: str
        conflicting_sha256: str
        received_at: datetime
        envelope_sha256: str
        envelope_sealed: str

    @staticmethod
    def create_id() -> UUID:
        # Every occurrence is its own fact; the transaction that records it also
        # records the refusal and the source position, so a replay does not double it.
        return uuid4()

    @event(Recorded)
    def __init__(
        self,
        source: str,
        event_id: str,
        organisation: str,
        conflicting_sha256: str,
        received_at: datetime,
        envelope_sha256: str,
        envelope_sealed: str,
    ) -> None:
        self.source = source
        self.event_id = event_id
        self.organisation = organisation
        self.conflicting_sha256 = conflicting_sha256
        self.received_at = received_at
