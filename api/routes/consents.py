"""A citizen's consents and opt-outs: their state now, and how it changed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.auth.policy import Citizen, require_own_subject
from api.deps import Views, parse_subject, read_your_writes
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


@router.get("/{subject}/consents", dependencies=[Depends(read_your_writes("consent"))])
async def consents(
    subject: str, request: Request, principal: Citizen, views: Views
) -> dict[str, Any]:
    """This citizen's consents and opt-outs, per organisation and purpose, with history."""
    subject_id = parse_subject(subject)
    key = request.app.state.keyring.pseudonymiser.subject_key(subject_id)
    require_own_subject(principal, key)
    rows = await views.consents([key])
    names = await views.organisation_names(sorted({r["controller"] for r in rows}))
    return {
        "records": [
            {
                "kind": row["kind"],
                "organisation": None
                if row["controller"] == "*"
                else {
                    "code": row["controller"],
                    "name": names.get(row["controller"], row["controller"]),
                },
                "purpose": row["purpose"]["text"],
                "state": row["state"],
                "summary": f"{STATE_WORDS[row['state']]} ({row['purpose']['text']}), "
                f"since {wording.day(row['changed_at'])}.",
                "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
                "history": row["history"] or [],
            }
            for row in rows
        ]
    }
