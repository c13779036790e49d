"""What the DSAR officers' and the citizens' case routes take and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import OrganisationPublic

REFERENCE = "^[A-Za-z0-9][A-Za-z0-9._/-]{0,79}$"
CODE = "^[a-z0-9][a-z0-9._-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Deadline(BaseModel):
    """The case's time limit as of today (computed from the calendar, never stored)."""

    start: date = Field(description="The day the month runs from (the relevant time)")
    due: date = Field(description="The date the answer is due (working-day rule applied)")
    days_left: int = Field(description="Calendar days from today to the due date; < 0: overdue")
    overdue: bool
    stopped: bool = Field(description="A clarification is awaited: the clock is stopped")
    provisional: bool = Field(description="Beyond the published bank holidays")
    paused_days: int
    extension_notice_by: date = Field(
        description="The date by which an extension must be notified to the requester"
    )
    explanation: list[str] = Field(description="How the due date was worked out, step by step")


class CaseStep(BaseModel):
    position: int = Field(description="Ledger position of the event")
    step: str
    at: datetime
    by_officer: str | None = Field(
        None, description="Pseudonym of the officer who acted (never their staff id)"
    )
    detail: dict[str, Any]


class RedactionDecision(BaseModel):
    position: int = Field(description="Ledger position of the decision")
    item_position: int = Field(description="Ledger position of the event the item is in")
    field: str
    disclose: bool
    reason: str
    by_officer: str | None
    at: datetime


class CaseSummary(BaseModel):
    kind: Literal["request", "query"]
    reference: str
    state: str
    received_at: datetime
    due: date | None = Field(None, description="Due date as of today; None before the clock starts")
    days_left: int | None = None
    overdue: bool = False


class Queue(BaseModel):
    cases: list[CaseSummary]
    next: str | None = Field(None, description="Pass as ?after= for the next page")


class CaseView(CaseSummary):
    organisation: str
    channel: str | None
    requester: str | None
    identity_required: bool
    identity_verified_at: datetime | None
    pauses: list[list[date | None]] = Field(description="[asked, answered or null], each a day")
    extension: dict[str, Any] | None
    outcome: dict[str, Any] | None
    about_position: int | None = Field(None, description="The queried entry's ledger position")
    concern: str | None = None
    deadline: Deadline | None
    history: list[CaseStep]
    redactions: list[RedactionDecision]
    complaint_rights: str | None = Field(
        None, description="For a refused request: what the requester is told of their rights"
    )


class Accepted(BaseModel):
    """Recorded in the ledger; the case view has not shown it yet."""

    reference: str
    position: int
    detail: str


# -- bodies --


class Method(_Strict):
    code: str = Field(pattern=CODE, examples=["passport"])
    text: str = Field(min_length=1, max_length=300, examples=["Passport seen in person"])


class OpenRequest(_Strict):
    subject: str = Field(
        description="The requester's identifier, scheme:value", examples=["nino:AB123456C"]
    )
    reference: str | None = Field(
        None, pattern=REFERENCE, description="Your case reference; the ledger makes one if absent"
    )
    received_at: datetime | None = Field(None, description="When it was received; now if absent")
    channel: Literal["online", "email", "post", "phone", "in-person", "other"]
    requester: Literal["subject", "representative"] = "subject"
    identity_required: bool = Field(
        description="Identity (or a representative's authority) must be verified first: the "
        "month then runs from when it is"
    )


class Step(_Strict):
    at: datetime | None = Field(None, description="When it happened; now if absent")


class VerifyIdentity(Step):
    method: Method


class Extend(Step):
    months: Literal[1, 2]
    reason: str = Field(min_length=1, max_length=500)
    requester_told_at: datetime | None = Field(None, description="Now if absent")


class Refuse(Step):
    grounds: Literal["manifestly-unfounded", "manifestly-excessive"]
    reason: str = Field(min_length=1, max_length=1000)


class Respond(Step):
    channel: Literal["portal", "email", "post", "in-person"] = "portal"


class Redact(Step):
    position: int = Field(ge=1, description="Ledger position of the event the item is in")
    field: Literal["official"] = "official"
    disclose: bool
    reason: str = Field(min_length=1, max_length=500)


class Answer(Step):
    explanation: str = Field(min_length=1, max_length=2000)


class CitizenOpens(_Strict):
    organisation: str = Field(pattern="^[A-Z0-9][A-Z0-9-]{1,31}$", examples=["DWP"])


class CitizenQuery(_Strict):
    position: int = Field(ge=1, description="Ledger position of the timeline entry")
    concern: Literal["dont-recognise-organisation", "dont-recognise-reason", "other"] = "other"


class CitizenStep(BaseModel):
    step: str = Field(description="What happened, e.g. received, extended, answered")
    at: datetime
    summary: str = Field(description="What happened, in plain English")


class CitizenCase(BaseModel):
    kind: Literal["request", "query"]
    organisation: OrganisationPublic
    reference: str
    state: str
    summary: str = Field(description="Where it stands, in plain English")
    received_at: datetime
    due: date | None
    due_text: str | None = Field(None, description="e.g. 3 April 2026")
    provisional: bool = False
    steps: list[CitizenStep] = Field(description="What happened, oldest first")
    about_position: int | None = None
    explanation: str | None = Field(None, description="A query's answer")
    bundle_available: bool = False


class CitizenCases(BaseModel):
    cases: list[CitizenCase]
