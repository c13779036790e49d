"""Erasures: what the ledger destroyed, when, and under which rule, kept in the log.

An erasure destroys data keys (``ledger.vault``): the events stay, their leaves and
proofs stay valid, and what the keys opened can no longer be read. The event that
records it names the erased events by their place in the log and the slots whose keys
went, the rule (the retention schedule, or an erasure request upheld or refused, with
its basis and reason), and when. It holds no personal data but two sealed members: the
**tombstones** (for each erased entry, the tag of the person it was about, so that
person's timeline can say "details removed on ..." where the entry was) and the DSAR
officer's pseudonym of a decision.

It is recorded by the ledger itself, not from a service's envelope: its signature is
the log's own (Ed25519 with the log's signing key, over the RFC 8785 form of every other
member), which ``ledger verify --audit`` checks, with the rule that every destroyed key
is named by an erasure recorded after its event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

RETENTION, REQUEST = "retention", "request"


class KeysChanged(RuntimeError):
    """An erasure found some of its keys already destroyed (another erasure of the same
    records was recorded first): nothing was done; decide again."""


UPHELD, REFUSED = "upheld", "refused"


class Erasure(Aggregate):
    """One run of the retention schedule, or one decision on an erasure request."""

    class Recorded(Aggregate.Created):
        rule: str
        decision: str | None
        basis: str
        reason: str | None
        organisation: str | None
        reference: str | None
        officer_key: str | None
        erased_at: datetime
        erased: list[dict[str, Any]]
        tombstones: list[list[str]]
        signature: str

    @staticmethod
    def create_id() -> UUID:
        return uuid4()

    @event(Recorded)
    def __init__(
        self,
        rule: str,
        decision: str | None,
        basis: str,
        reason: str | None,
        organisation: str | None,
        reference: str | None,
        officer_key: str | None,
        erased_at: datetime,
        erased: list[dict[str, Any]],
        tombstones: list[list[str]],
        signature: str,
    ) -> None:
        self.rule = rule
        self.decision = decision
        self.erased_at = erased_at
        self.erased = erased


def erased_records(event: Erasure.Recorded) -> list[UUID]:
    """The records (aggregate ids) an erasure erased whole, event by event."""
    return list(
        dict.fromkeys(
            UUID(str(item["event"]).split("/")[0]) for item in event.erased if item.get("whole")
        )
    )
