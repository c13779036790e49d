"""A citizen's consents and opt-outs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import ConsentStep, OrganisationPublic


class ConsentRecordPublic(BaseModel):
    kind: Literal["consent", "objection"]
    organisation: OrganisationPublic | None = Field(description="null: every organisation")
    purpose: str
    state: Literal["given", "renewed", "withdrawn", "expired", "in-force", "lifted"]
    summary: str
    expires_at: datetime | None
    history: list[ConsentStep]


class ConsentsPublic(BaseModel):
    records: list[ConsentRecordPublic]
