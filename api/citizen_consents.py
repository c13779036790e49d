"""A citizen's consents and opt-outs in plain English, as the API and the portal both
show them: their state now, and how each changed."""

from __future__ import annotations

from collections.abc import Sequence

from api.schemas.common import OrganisationPublic
from api.schemas.consents import ConsentRecordPublic
from projections import wording
from projections.reading import ViewReader

STATE_WORDS = {
    "given": "You have given consent",
    "renewed": "You have given consent",
    "withdrawn": "You withdrew your consent",
    "expired": "Your consent ran out",
    "in-force": "You have opted out",
    "lifted": "You opted back in",
}


async def citizen_consents(
    views: ViewReader, subject_keys: Sequence[str]
) -> list[ConsentRecordPublic]:
    """The subjects' consents and opt-outs, per organisation and purpose, with history."""
    rows = await views.consents(subject_keys)
    names = await views.organisation_names(sorted({r["controller"] for r in rows}))
    return [
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
