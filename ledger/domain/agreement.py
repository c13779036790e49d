"""Data sharing agreements (ICO Data Sharing Code; DEA 2017 register)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import InvariantViolated, natural_id, not_before

Submission = dict[str, Any]


class DataSharingAgreement(Aggregate):
    """An agreement between parties, known by its reference, with terms that may change.

    ``terms`` holds parties and roles, purposes, gateway and basis, data categories,
    period, retention, rights contact and review date, exactly as registered or last
    amended; shares are judged against the terms in force at the time of the share.
    """

    class Registered(Aggregate.Created):
        reference: str
        terms: dict[str, Any]
        at: datetime
        submission: Submission | None

    class Amended(Aggregate.Event):
        terms: dict[str, Any]
        reason: str
        at: datetime
        submission: Submission | None

    class Ended(Aggregate.Event):
        reason: str
        at: datetime
        submission: Submission | None

    @staticmethod
    def create_id(reference: str) -> UUID:
        return natural_id("data-sharing-agreement", reference)

    @event(Registered)
    def __init__(
        self, reference: str, terms: dict[str, Any], at: datetime, submission: Submission | None
    ) -> None:
        self.reference = reference
        self.terms = terms
        self.changed_at = at
        self.ended_at: datetime | None = None

    @property
    def parties(self) -> set[str]:
        return {party["organisation"] for party in self.terms["parties"]}

    def _require_in_force(self, doing: str, at: datetime) -> None:
        if self.ended_at is not None:
            raise InvariantViolated("agreement-ended", f"cannot {doing}: the agreement has ended")
        not_before(at, self.changed_at, doing)

    def amend(
        self, terms: dict[str, Any], reason: str, at: datetime, submission: Submission | None
    ) -> None:
        self._require_in_force("amend", at)
        self._amended(terms=terms, reason=reason, at=at, submission=submission)

    @event(Amended)
    def _amended(
        self, terms: dict[str, Any], reason: str, at: datetime, submission: Submission | None
    ) -> None:
        self.terms = {**self.terms, **terms}
        self.changed_at = at

    def end(self, reason: str, at: datetime, submission: Submission | None) -> None:
        self._require_in_force("end", at)
        self._ended(reason=reason, at=at, submission=submission)

    @event(Ended)
    def _ended(self, reason: str, at: datetime, submission: Submission | None) -> None:
        self.ended_at = self.changed_at = at
