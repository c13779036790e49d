"""Consents and objections (opt-outs) of one citizen, one purpose at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import InvariantViolated, natural_id, not_before

Submission = dict[str, Any]  # source, event id and the sealed envelope that caused a change


class Consent(Aggregate):
    """A citizen's consent to one controller, for one purpose (ISO/IEC TS 27560 record).

    States: ``given`` and ``renewed`` are active; ``withdrawn`` and ``expired`` are not.
    """

    class Given(Aggregate.Created):
        subject_key: str
        controller: str
        purpose: dict[str, Any]
        terms: dict[str, Any]
        at: datetime
        expires_at: datetime | None
        submission: Submission | None

    class Withdrawn(Aggregate.Event):
        at: datetime
        submission: Submission | None

    class Expired(Aggregate.Event):
        at: datetime
        submission: Submission | None

    class Renewed(Aggregate.Event):
        at: datetime
        expires_at: datetime | None
        terms: dict[str, Any]
        submission: Submission | None

    class GivenAgain(Aggregate.Event):
        at: datetime
        expires_at: datetime | None
        terms: dict[str, Any]
        submission: Submission | None

    ACTIVE = frozenset({"given", "renewed"})

    @staticmethod
    def create_id(subject_key: str, controller: str, purpose: dict[str, Any]) -> UUID:
        # eventsourcing calls this with the creation arguments of the same names.
        return natural_id("consent", subject_key, controller, purpose["code"])

    @event(Given)
    def __init__(
        self,
        subject_key: str,
        controller: str,
        purpose: dict[str, Any],
        terms: dict[str, Any],
        at: datetime,
        expires_at: datetime | None,
        submission: Submission | None,
    ) -> None:
        self.subject_key = subject_key
        self.controller = controller
        self.purpose = purpose
        self.terms = terms
        self.state = "given"
        self.changed_at = at
        self.expires_at = expires_at

    @property
    def active(self) -> bool:
        return self.state in self.ACTIVE

    def _require(self, states: set[str] | frozenset[str], doing: str, at: datetime) -> None:
        if self.state not in states:
            raise InvariantViolated(
                "consent-state", f"cannot {doing} a consent that is {self.state}"
            )
        not_before(at, self.changed_at, f"consent {doing}")

    def withdraw(self, at: datetime, submission: Submission | None) -> None:
        self._require(self.ACTIVE, "withdraw", at)
        self._withdrawn(at=at, submission=submission)

    @event(Withdrawn)
    def _withdrawn(self, at: datetime, submission: Submission | None) -> None:
        self.state, self.changed_at = "withdrawn", at

    def expire(self, at: datetime, submission: Submission | None) -> None:
        self._require(self.ACTIVE, "expire", at)
        self._expired(at=at, submission=submission)

    @event(Expired)
    def _expired(self, at: datetime, submission: Submission | None) -> None:
        self.state, self.changed_at = "expired", at

    def renew(
        self,
        at: datetime,
        expires_at: datetime | None,
        terms: dict[str, Any],
        submission: Submission | None,
    ) -> None:
        self._require(self.ACTIVE | {"expired"}, "renew", at)
        self._renewed(at=at, expires_at=expires_at, terms=terms, submission=submission)

    @event(Renewed)
    def _renewed(
        self,
        at: datetime,
        expires_at: datetime | None,
        terms: dict[str, Any],
        submission: Submission | None,
    ) -> None:
        self.state, self.changed_at, self.expires_at = "renewed", at, expires_at
        self.terms = terms

    def give_again(
        self,
        at: datetime,
        expires_at: datetime | None,
        terms: dict[str, Any],
        submission: Submission | None,
    ) -> None:
        """Consent given anew after it was withdrawn or expired."""
        self._require({"withdrawn", "expired"}, "give", at)
        self._given_again(at=at, expires_at=expires_at, terms=terms, submission=submission)

    @event(GivenAgain)
    def _given_again(
        self,
        at: datetime,
        expires_at: datetime | None,
        terms: dict[str, Any],
        submission: Submission | None,
    ) -> None:
        self.state, self.changed_at, self.expires_at = "given", at, expires_at
        self.terms = terms


class Objection(Aggregate):
    """A citizen's objection or opt-out (Art. 21), for one purpose.

    ``controller`` is None for a national opt-out that binds every controller.
    """

    class Set(Aggregate.Created):
        subject_key: str
        controller: str | None
        purpose: dict[str, Any]
        grounds: str | None
        at: datetime
        submission: Submission | None

    class Lifted(Aggregate.Event):
        at: datetime
        submission: Submission | None

    class SetAgain(Aggregate.Event):
        at: datetime
        grounds: str | None
        submission: Submission | None

    @staticmethod
    def create_id(subject_key: str, controller: str | None, purpose: dict[str, Any]) -> UUID:
        return natural_id("objection", subject_key, controller or "*", purpose["code"])

    @event(Set)
    def __init__(
        self,
        subject_key: str,
        controller: str | None,
        purpose: dict[str, Any],
        grounds: str | None,
        at: datetime,
        submission: Submission | None,
    ) -> None:
        self.subject_key = subject_key
        self.controller = controller
        self.purpose = purpose
        self.in_force = True
        self.changed_at = at

    def lift(self, at: datetime, submission: Submission | None) -> None:
        if not self.in_force:
            raise InvariantViolated("objection-state", "cannot lift an objection not in force")
        not_before(at, self.changed_at, "objection lifted")
        self._lifted(at=at, submission=submission)

    @event(Lifted)
    def _lifted(self, at: datetime, submission: Submission | None) -> None:
        self.in_force, self.changed_at = False, at

    def set_again(self, at: datetime, grounds: str | None, submission: Submission | None) -> None:
        if self.in_force:
            raise InvariantViolated("objection-state", "the objection is already in force")
        not_before(at, self.changed_at, "objection set")
        self._set_again(at=at, grounds=grounds, submission=submission)

    @event(SetAgain)
    def _set_again(self, at: datetime, grounds: str | None, submission: Submission | None) -> None:
        self.in_force, self.changed_at = True, at
