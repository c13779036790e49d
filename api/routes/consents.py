"""A citizen's consents and opt-outs: their state now, and how it changed."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import OwnSubject, Views, own_subject, read_your_writes
from api.problems import problem_responses
from api.schemas.common import OrganisationPublic
from api.schemas.consents import ConsentRecordPublic, ConsentsPublic
from projections import wording

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])

STATE_WORDS = {
    "given": "You have given consent",
    "renewed": "You have given consent",
    "withdrawn": "You withdrew your consent",
    "expired": "Your consent ran out",
    "in-force": "You have opted out",
    "lifted": "You opted back in",
}


@router.get(
    "/{subject}/consents",
    response_model=ConsentsPublic,
    responses=problem_responses(400, 401, 403, 404, 503),
    dependencies=[Depends(read_your_writes("consent", after=own_subject))],
)
async def consents(subject: OwnSubject, views: Views) -> ConsentsPublic:
    """This citizen's consents and opt-outs, per organisation and purpose, with history."""
    rows = await views.consents([subject.key])
    names = await views.organisation_names(sorted({r["controller"] for r in rows}))
    return ConsentsPublic(
        records=[
            ConsentRecordPublic(
                kind=row["kind"],
                organisation=None
                if row["controller"] == "*"
                else OrganisationPublic(
                    code=row["controller"], name=names.get(row["controller"], row["controller"])
                ),
                purpose=row["purpose"]["text"],
                state=row["state"],
                summary=f"{STATE_WORDS[row['state']]} ({row['purpose']['text']}), "
                f"since {wording.day(row['changed_at'])}.",
                expires_at=row["expires_at"],
                history=row["history"] or [],
            )
            for row in rows
        ]
    )
