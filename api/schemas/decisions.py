"""The consent decision for services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.deps import CODE, ORGANISATION


class ShareDecisionIn(BaseModel):
    """The share a service is about to make."""

    sender: str = Field(pattern=ORGANISATION, description="organisation sharing (yours)")
    recipient: str = Field(pattern=ORGANISATION, description="organisation receiving")
    subject: str = Field(max_length=250, description="scheme:value, e.g. nhs-number:9434765919")
    purpose: str = Field(pattern=CODE, description="purpose code")
    categories: list[str] = Field(min_length=1, max_length=100, description="data category codes")


class ShareDecisionPublic(BaseModel):
    """Allowed, with the basis; or denied, with the reason."""

    allowed: bool
    basis: str | None = Field(description="consent, gateway or agreement; null if denied")
    reason: str | None = Field(description="why denied; null if allowed")
    explanation: str
    agreement: str | None
    legal_gateway: dict[str, Any] | None
    decided_at: datetime
