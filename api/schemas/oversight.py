"""What auditors see: compliance findings and transparency statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import Coded


class FindingPublic(BaseModel):
    position: int = Field(description="ledger position of the event that raised it")
    rule: str
    title: str
    occurred_at: datetime
    organisation: str
    counterpart: str | None
    subjects: int = Field(description="how many people it concerns")
    detail: dict[str, Any]
    status: str
    resolved_by: int | None
    event: str = Field(description="where to fetch the event's inclusion proof")


class FindingsPublic(BaseModel):
    """Newest first; ``next`` is the ``before`` of the next page."""

    findings: list[FindingPublic]
    next: int | None


class StatisticsCellPublic(BaseModel):
    month: str = Field(examples=["2026-01"])
    kind: str
    organisation: str
    gateway: str | None
    purpose: Coded
    events: int | None = Field(description="null when suppressed")
    people: int | None = Field(description="null when suppressed")
    suppressed: bool


class StatisticsPublic(BaseModel):
    """Counts below ``suppressed_below`` are withheld."""

    suppressed_below: int
    cells: list[StatisticsCellPublic]
