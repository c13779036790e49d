"""A citizen's consents and opt-outs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

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


class ReceiptSignature(BaseModel):
    algorithm: Literal["Ed25519"]
    covers: str = Field(description="what the signature is over")
    key_name: str = Field(description="the log's origin: its key's name")
    key_id: str = Field(description="the log key's id (hex), as in `ledger log-key`")
    value: str = Field(description="the detached Ed25519 signature, standard base64")


class ConsentReceiptPublic(BaseModel):
    """A signed consent receipt: an ISO/IEC TS 27560 consent record, its Kantara Consent
    Receipt v1.1 mapping, the W3C DPV terms used, and the evidence from the log (each
    change's disclosable form and inclusion proof). `ledger verify receipt FILE --key
    KEY` checks one offline."""

    kind: Literal["consent-receipt"]
    format: Literal["ledger-consent-receipt/v1"]
    record: dict[str, Any] = Field(description="the ISO/IEC TS 27560 consent record")
    kantara: dict[str, Any] = Field(description="the same, as a Kantara Consent Receipt v1.1")
    dpv: dict[str, Any] = Field(description="the DPV terms used, with DPV's licence")
    evidence: dict[str, Any] = Field(
        description="each change of the consent up to this one: its disclosable form and "
        "its inclusion proof against one signed tree head"
    )
    signature: ReceiptSignature
