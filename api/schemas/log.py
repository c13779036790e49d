"""The verifiable log: its key, signed tree heads and proofs."""

from __future__ import annotations

from typing import Literal

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


class InclusionProofPublic(BaseModel):
    kind: Literal["inclusion-proof"]
    leaf_index: int
    position: int
    tree_size: int
    leaf_hash: str
    leaf_input: str
    inclusion_path: list[str]
    tree_head: SignedTreeHeadPublic
    nodes_read: int


class ConsistencyProofPublic(BaseModel):
    kind: Literal["consistency-proof"]
    first: SignedTreeHeadPublic
    second: SignedTreeHeadPublic
    consistency_path: list[str]
    nodes_read: int
