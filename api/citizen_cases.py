"""A citizen's own requests and queries, as the API and the portal both show and open
them: where a case stands in plain English, opening a subject access request, raising
a query about one entry (each signed by the organisation's DSAR service, see
:func:`api.dsar.emit`)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from api.deps import CitizenSubject
from api.dsar import COMPLAINT_RIGHTS, emit, today_uk
from api.schemas.cases import CitizenCase, CitizenStep
from api.schemas.common import OrganisationPublic
from ledger.catalogue.requests import QUERY_RAISED, SAR_RECEIVED
from ledger.dsar.rules import QUERY, REQUEST
from projections import cases as case_view
from projections import wording
from projections.cases import CaseRow
from projections.reading import ViewReader


def _steps(case: CaseRow, history: list[dict[str, Any]], name: str) -> list[CitizenStep]:
    kind = "query" if case.kind == QUERY else "subject-access-request"
    steps = []
    for row in history:
        step = row["step"]
        if step == "redaction-decided":
            continue  # the officer's working, shown in the response itself
        detail = {"change": step}
        if step == "answered" and case.outcome_detail:
            detail["explanation"] = case.outcome_detail.get("explanation", "")
        summary = wording.describe_change(kind, name, row["at"], detail)
        steps.append(CitizenStep(step=step, at=row["at"], summary=summary))
    return steps


async def citizen_case(views: ViewReader, case: CaseRow, names: dict[str, str]) -> CitizenCase:
    """Where one case stands, its due date and its steps, in the citizen's words."""
    today = today_uk()
    name = names.get(case.organisation, case.organisation)
    found = case.deadline(today)
    due = found.due if found and not found.stopped else None
    summary = wording.describe_case(case.kind, case.state, name, due)
    if case.state == "refused":
        summary = f"{summary} {COMPLAINT_RIGHTS}"
    return CitizenCase(
        kind=case.kind,  # type: ignore[arg-type]
        organisation=OrganisationPublic(code=case.organisation, name=name),
        reference=case.reference,
        state=case.state,
        summary=summary,
        received_at=case.received_at,
        due=due,
        due_text=wording.day_of(due) if due else None,
        provisional=bool(found and found.provisional),
        steps=_steps(case, await case_view.history(views, case.case_id), name),
        about_position=case.about_position,
        explanation=(case.outcome_detail or {}).get("explanation") if case.kind == QUERY else None,
        bundle_available=case.kind == REQUEST and case.outcome == "responded",
    )


async def citizen_cases(views: ViewReader, subject_keys: Sequence[str]) -> list[CitizenCase]:
    """The subjects' requests and questions, newest first, each as :func:`citizen_case`."""
    rows = await case_view.cases_of_subjects(views, list(subject_keys))
    names = await views.organisation_names(sorted({row.organisation for row in rows}))
    return [await citizen_case(views, row, names) for row in rows]


async def record_request(
    request: Request, subject: CitizenSubject, organisation: str
) -> tuple[str, int]:
    """Record a subject access request the signed-in citizen made online to
    ``organisation``; its reference and ledger position."""
    reference = f"SAR-{today_uk():%Y}-{secrets.token_hex(4).upper()}"
    data = {
        "case": {"organisation": organisation, "reference": reference},
        "subjects": [{"scheme": subject.id.scheme, "value": subject.id.value}],
        "channel": "online",
        "requester": "subject",
        "identity_required": False,
    }
    return reference, await emit(request, organisation, SAR_RECEIVED, data, datetime.now(UTC))


async def record_query(
    request: Request, subject: CitizenSubject, organisation: str, position: int, concern: str
) -> tuple[str, int]:
    """Record the citizen's query to ``organisation`` about the entry at ``position``;
    its reference and ledger position."""
    reference = f"Q-{today_uk():%Y}-{secrets.token_hex(4).upper()}"
    data = {
        "query": {"organisation": organisation, "reference": reference},
        "subjects": [{"scheme": subject.id.scheme, "value": subject.id.value}],
        "about": {"position": position},
        "concern": concern,
    }
    return reference, await emit(request, organisation, QUERY_RAISED, data, datetime.now(UTC))
