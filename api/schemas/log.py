"""The verifiable log: its key, signed tree heads and proofs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class LogKeyPublic(BaseModel):
    origin: str
    key_id: str
    verifier_key: str = Field(description="C2SP signed-note verifier key")
    algorithm: str


class SignedTreeHeadPublic(BaseModel):
    origin: str
    tree_size: int
    root_hash: str = Field(description="base64")
    timestamp: int = Field(description="milliseconds since the epoch")
    time: str
    key_name: str
    key_id: str
    signature: str = Field(description="base64 Ed25519 signature")
    checkpoint: str = Field(description="the same head as a C2SP checkpoint")


class TreeHeadsPublic(BaseModel):
    """Signed tree heads, smallest first; ``next`` is the ``after`` of the next page."""

    tree_heads: list[SignedTreeHeadPublic]
    next: int | None


class InclusionProofPublic(BaseModel):
    kind: Literal["inclusion-proof"]
    leaf_index: int
    position: int
    tree_size: int
    leaf_hash: str
    leaf_input: str | None = Field(
        None, description="base64; only where it shows no content (absent otherwise)"
    )
    inclusion_path: list[str]
    tree_head: SignedTreeHeadPublic
    nodes_read: int


class ConsistencyProofPublic(BaseModel):
    kind: Literal["consistency-proof"]
    first: SignedTreeHeadPublic
    second: SignedTreeHeadPublic
    consistency_path: list[str]
    nodes_read: int


class OpeningPublic(BaseModel):
    """What shows that the commitment at ``pointer`` stands for ``value``."""

    pointer: str
    salt: str = Field(description="hex")
    value: str


class EventContentPublic(BaseModel):
    """An event's disclosable form (personal fields are salted commitments), the leaf
    input it is checked against, and the openings of the caller's own commitments."""

    position: int
    leaf_index: int | None = Field(description="null until sealed")
    leaf_input: str | None = Field(description="base64; null until sealed")
    disclosable: str = Field(description="base64 of the disclosable form's bytes")
    event: dict[str, Any]
    openings: list[OpeningPublic]
