"""Parts shared by several resources' schemas."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OrganisationPublic(BaseModel):
    """A public body: its code and its name in words."""

    code: str = Field(examples=["DWP"])
    name: str = Field(examples=["the Department for Work and Pensions"])


class Coded(BaseModel):
    """A code, and its meaning in plain English."""

    code: str
    text: str


class StateChange(BaseModel):
    """One step in the history of a consent, an opt-out or an agreement."""

    at: str = Field(description="when (RFC 3339)")


class ConsentStep(StateChange):
    state: str
    position: int | None = Field(
        None,
        description="the change's ledger position; a consent's change has a signed receipt "
        "at GET /v1/citizens/{subject}/consents/{change}/receipt",
    )


class AgreementStep(StateChange):
    change: str = Field(description="registered, amended or ended")
    reason: str | None = None
