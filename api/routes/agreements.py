"""The register of data sharing agreements (no personal data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.auth.policy import Registrar
from api.deps import Views, read_your_writes

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])


@router.get("", dependencies=[Depends(read_your_writes("agreements"))])
async def register(
    _: Registrar,
    views: Views,
    party: Annotated[str | None, Query(max_length=32, description="organisation code")] = None,
) -> dict[str, Any]:
    """Every registered agreement, its terms now, and when it was amended or ended."""
    rows = await views.agreements(party)
    return {
        "agreements": [
            {
                "reference": row["reference"],
                **row["terms"],
                "registered_at": row["registered_at"].isoformat(),
                "ended_at": row["ended_at"].isoformat() if row["ended_at"] else None,
                "in_force": row["ended_at"] is None,
                "history": row["history"] or [],
            }
            for row in rows
        ]
    }
