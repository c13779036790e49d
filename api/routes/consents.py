"""A citizen's consents and opt-outs: their state now, and how it changed."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.citizen_consents import citizen_consents
from api.deps import OwnSubject, Views, own_subject, read_your_writes
from api.problems import problem_responses
from api.schemas.consents import ConsentsPublic

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])


@router.get(
    "/{subject}/consents",
    response_model=ConsentsPublic,
    responses=problem_responses(400, 401, 403, 404, 503),
    dependencies=[Depends(read_your_writes("consent", after=own_subject))],
)
async def consents(subject: OwnSubject, views: Views) -> ConsentsPublic:
    """This citizen's consents and opt-outs, per organisation and purpose, with history."""
    return ConsentsPublic(records=await citizen_consents(views, [subject.key]))
