"""A citizen's timeline: one entry per thing that happened to their data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import OrganisationPublic


class EntryBase(BaseModel):
    position: int = Field(description="ledger position of the event")
    occurred_at: datetime
    recorded_at: datetime
    organisation: OrganisationPublic
    summary: str = Field(description="what happened, in plain English")
    leaf_index: int | None = Field(description="its leaf in the verifiable log; null until sealed")
    leaf_hash: str | None = Field(description="base64 leaf hash; null until sealed")
    inclusion_proof: str | None = Field(description="where to fetch its inclusion proof")


class AccessEntryPublic(EntryBase):
    """Someone looked at, exported, changed or deleted a record about the citizen."""

    kind: Literal["data-accessed"]
    who: str = Field(description="the official's role, never their identity")
    what: str
    data: str
    why: str
    basis: str
    system: str
    action: str
    emergency_access: bool


class ShareEntryPublic(EntryBase):
    """Data about the citizen was passed to another organisation."""

    kind: Literal["data-shared"]
    to: OrganisationPublic
    data: str
    why: str
    basis: str
    law: str | None
    kept_for: str
    sent_abroad: bool


class ChangeEntryPublic(EntryBase):
    """A consent, an opt-out or a subject access request changed."""

    kind: Literal["consent", "objection", "subject-access-request"]


TimelineEntryPublic = Annotated[
    AccessEntryPublic | ShareEntryPublic | ChangeEntryPublic, Field(discriminator="kind")
]


class SchemePublic(BaseModel):
    scheme: str = Field(examples=["nhs-number"])
    scheme_name: str = Field(examples=["NHS number"])


class TimelinePublic(BaseModel):
    """Entries newest first; ``next`` is the cursor of the next page (``after``)."""

    subject: SchemePublic
    entries: list[TimelineEntryPublic]
    next: str | None
