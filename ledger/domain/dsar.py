"""Subject access requests (UK GDPR Art. 15) and their lifecycle, as one case each.

The case records facts as the controller reports them; the statutory clock (due date,
stops and extensions) is computed from these facts elsewhere, not stored here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import InvariantViolated, natural_id, not_before

Submission = dict[str, Any]

# Art. 12(3): extended by at most two further months.
MAX_EXTENSION_MONTHS = 2


class SubjectAccessRequest(Aggregate):
    """One request, known by the receiving organisation's case reference."""

    class Received(Aggregate.Created):
        organisation: str
        reference: str
        subject_key: str
        channel: str
        requester: str
        identity_required: bool
        at: datetime
        submission: Submission | None
        officer_key: str | None = None

    class IdentityVerified(Aggregate.Event):
        at: datetime
        method: str
        submission: Submission | None
        officer_key: str | None = None

    class ClarificationRequested(Aggregate.Event):
        at: datetime
        submission: Submission | None
        officer_key: str | None = None

    class ClarificationReceived(Aggregate.Event):
        at: datetime
        submission: Submission | None
        officer_key: str | None = None

    class Extended(Aggregate.Event):
        at: datetime
        months: int
        reason: str
        submission: Submission | None
        officer_key: str | None = None

    class Responded(Aggregate.Event):
        at: datetime
        response: dict[str, Any]
        submission: Submission | None
        officer_key: str | None = None

    class Refused(Aggregate.Event):
        at: datetime
        refusal: dict[str, Any]
        submission: Submission | None
        officer_key: str | None = None

    class Closed(Aggregate.Event):
        at: datetime
        submission: Submission | None
        officer_key: str | None = None

    class RedactionDecided(Aggregate.Event):
        """An officer decided whether one item of third-party data (``field`` of the event
        at ledger ``position``, e.g. the official who accessed the record) is disclosed
        in the response, and why."""

        at: datetime
        position: int
        field: str
        disclose: bool
        reason: str
        submission: Submission | None
        officer_key: str | None = None

    @staticmethod
    def create_id(organisation: str, reference: str) -> UUID:
        return natural_id("subject-access-request", organisation, reference)

    @event(Received)
    def __init__(
        self,
        organisation: str,
        reference: str,
        subject_key: str,
        channel: str,
        requester: str,
        identity_required: bool,
        at: datetime,
        submission: Submission | None,
        officer_key: str | None = None,
    ) -> None:
        self.organisation = organisation
        self.reference = reference
        self.subject_key = subject_key
        self.received_at = at
        self.changed_at = at
        self.identity_verified = not identity_required
        self.awaiting_clarification = False
        self.extended_months = 0
        self.outcome: str | None = None  # "responded" or "refused"
        self.closed = False

    def _require_open(self, doing: str, at: datetime) -> None:
        if self.closed:
            raise InvariantViolated("request-closed", f"cannot {doing}: the request is closed")
        if self.outcome is not None:
            raise InvariantViolated(
                "request-answered", f"cannot {doing}: the request was already {self.outcome}"
            )
        not_before(at, self.changed_at, doing)

    def verify_identity(
        self,
        at: datetime,
        method: str,
        submission: Submission | None,
        officer_key: str | None = None,
    ) -> None:
        self._require_open("verify identity", at)
        if self.identity_verified:
            raise InvariantViolated("identity-verified", "identity is already verified")
        self._identity_verified(at, method, submission, officer_key)

    @event(IdentityVerified)
    def _identity_verified(
        self, at: datetime, method: str, submission: Submission | None, officer_key: str | None
    ) -> None:
        self.identity_verified, self.changed_at = True, at

    def request_clarification(
        self, at: datetime, submission: Submission | None, officer_key: str | None = None
    ) -> None:
        self._require_open("request clarification", at)
        if self.awaiting_clarification:
            raise InvariantViolated("clarification-pending", "clarification is already awaited")
        self._clarification_requested(at, submission, officer_key)

    @event(ClarificationRequested)
    def _clarification_requested(
        self, at: datetime, submission: Submission | None, officer_key: str | None
    ) -> None:
        self.awaiting_clarification, self.changed_at = True, at

    def receive_clarification(
        self, at: datetime, submission: Submission | None, officer_key: str | None = None
    ) -> None:
        self._require_open("receive clarification", at)
        if not self.awaiting_clarification:
            raise InvariantViolated("no-clarification-pending", "no clarification was requested")
        self._clarification_received(at, submission, officer_key)

    @event(ClarificationReceived)
    def _clarification_received(
        self, at: datetime, submission: Submission | None, officer_key: str | None
    ) -> None:
        self.awaiting_clarification, self.changed_at = False, at

    def extend(
        self,
        at: datetime,
        months: int,
        reason: str,
        submission: Submission | None,
        officer_key: str | None = None,
    ) -> None:
        self._require_open("extend", at)
        if self.extended_months + months > MAX_EXTENSION_MONTHS:
            raise InvariantViolated(
                "extension-limit", f"extensions may total at most {MAX_EXTENSION_MONTHS} months"
            )
        self._extended(at, months, reason, submission, officer_key)

    @event(Extended)
    def _extended(
        self,
        at: datetime,
        months: int,
        reason: str,
        submission: Submission | None,
        officer_key: str | None,
    ) -> None:
        self.extended_months += months
        self.changed_at = at

    def respond(
        self,
        at: datetime,
        response: dict[str, Any],
        submission: Submission | None,
        officer_key: str | None = None,
    ) -> None:
        # Responding before identity was verified is a policy matter (a finding), not
        # an impossibility, so it is recorded. (The officers' API refuses it first.)
        self._require_open("respond", at)
        self._responded(at, response, submission, officer_key)

    @event(Responded)
    def _responded(
        self,
        at: datetime,
        response: dict[str, Any],
        submission: Submission | None,
        officer_key: str | None,
    ) -> None:
        self.outcome, self.changed_at = "responded", at

    def refuse(
        self,
        at: datetime,
        refusal: dict[str, Any],
        submission: Submission | None,
        officer_key: str | None = None,
    ) -> None:
        self._require_open("refuse", at)
        self._refused(at, refusal, submission, officer_key)

    @event(Refused)
    def _refused(
        self,
        at: datetime,
        refusal: dict[str, Any],
        submission: Submission | None,
        officer_key: str | None,
    ) -> None:
        self.outcome, self.changed_at = "refused", at

    def close(
        self, at: datetime, submission: Submission | None, officer_key: str | None = None
    ) -> None:
        if self.closed:
            raise InvariantViolated("request-closed", "the request is already closed")
        not_before(at, self.changed_at, "close")
        self._closed(at, submission, officer_key)

    @event(Closed)
    def _closed(self, at: datetime, submission: Submission | None, officer_key: str | None) -> None:
        self.closed, self.changed_at = True, at

    def decide_redaction(
        self,
        at: datetime,
        position: int,
        field: str,
        disclose: bool,
        reason: str,
        submission: Submission | None,
        officer_key: str | None = None,
    ) -> None:
        self._require_open("decide a redaction", at)
        self._redaction_decided(at, position, field, disclose, reason, submission, officer_key)

    @event(RedactionDecided)
    def _redaction_decided(
        self,
        at: datetime,
        position: int,
        field: str,
        disclose: bool,
        reason: str,
        submission: Submission | None,
        officer_key: str | None,
    ) -> None:
        self.changed_at = at


class AccessQuery(Aggregate):
    """A citizen's question about one entry of their timeline ("I don't recognise
    this"), routed to the organisation that made the access and answered by it. Known by
    the organisation and the reference the ledger gave it."""

    class Raised(Aggregate.Created):
        organisation: str
        reference: str
        subject_key: str
        about_position: int
        concern: str
        at: datetime
        submission: Submission | None

    class Answered(Aggregate.Event):
        at: datetime
        explanation: str
        submission: Submission | None
        officer_key: str | None = None

    @staticmethod
    def create_id(organisation: str, reference: str) -> UUID:
        return natural_id("access-query", organisation, reference)

    @event(Raised)
    def __init__(
        self,
        organisation: str,
        reference: str,
        subject_key: str,
        about_position: int,
        concern: str,
        at: datetime,
        submission: Submission | None,
    ) -> None:
        self.organisation = organisation
        self.reference = reference
        self.subject_key = subject_key
        self.about_position = about_position
        self.changed_at = at
        self.answered = False

    def answer(
        self,
        at: datetime,
        explanation: str,
        submission: Submission | None,
        officer_key: str | None = None,
    ) -> None:
        if self.answered:
            raise InvariantViolated("query-answered", "the query was already answered")
        not_before(at, self.changed_at, "answer")
        self._answered(at, explanation, submission, officer_key)

    @event(Answered)
    def _answered(
        self, at: datetime, explanation: str, submission: Submission | None, officer_key: str | None
    ) -> None:
        self.answered, self.changed_at = True, at
