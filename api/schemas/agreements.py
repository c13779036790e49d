"""The register of data sharing agreements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import AgreementStep, Coded


class Party(BaseModel):
    organisation: str
    role: str


class AgreementPublic(BaseModel):
    """An agreement's terms now (as registered, with amendments applied)."""

    model_config = ConfigDict(extra="allow")

    reference: str = Field(examples=["DSA-2024-017"])
    title: str
    parties: list[Party]
    purposes: list[Coded]
    legal_gateway: Coded | None = None
    lawful_basis: dict[str, Any]
    data_categories: list[dict[str, Any]]
    starts_on: str
    ends_on: str | None
    retention: dict[str, Any]
    rights_contact: str
    review_on: str
    registered_at: datetime
    ended_at: datetime | None
    in_force: bool
    history: list[AgreementStep]


class AgreementsPublic(BaseModel):
    agreements: list[AgreementPublic]
