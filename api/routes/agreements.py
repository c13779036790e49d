"""The register of data sharing agreements (no personal data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth.policy import Registrar, registrar
from api.deps import ORGANISATION, Views, read_your_writes
from api.problems import problem_responses
from api.schemas.agreements import AgreementPublic, AgreementsPublic

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])


@router.get(
    "",
    response_model=AgreementsPublic,
    responses=problem_responses(400, 401, 403, 503),
    dependencies=[Depends(read_your_writes("agreements", after=registrar))],
)
async def register(
    _: Registrar,
    views: Views,
    party: Annotated[
        str | None, Query(pattern=ORGANISATION, description="only agreements it is party to")
    ] = None,
) -> AgreementsPublic:
    """Every registered agreement, its terms now, and when it was amended or ended."""
    rows = await views.agreements(party)
    return AgreementsPublic(
        agreements=[
            AgreementPublic.model_validate(
                {
                    "reference": row["reference"],
                    **row["terms"],
                    "registered_at": row["registered_at"],
                    "ended_at": row["ended_at"],
                    "in_force": row["ended_at"] is None,
                    "history": row["history"] or [],
                }
            )
            for row in rows
        ]
    )
