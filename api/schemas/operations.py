"""Operations probes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Liveness(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    part: str
    status: Literal["ok", "failing"]
    detail: str | None = None


class Readiness(BaseModel):
    """Each part of the pipeline, and whether all are well."""

    status: Literal["ok", "failing"]
    checks: list[Check]
