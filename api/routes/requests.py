"""Citizens: ask an organisation for a copy of their data, ask it about one entry of
their record ("I don't recognise this"), and follow both.

A citizen reads and acts only on the subjects linked to their account (403 otherwise,
as for the timeline). A request they open is recorded as received through the
organisation's DSAR service (its key, held by the ledger): they signed in, so no
further identity check is asked for and the month runs from today. A query is routed
to the organisation that made the entry they ask about.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import ORGANISATION, OwnSubject, Views
from api.dsar import BUNDLE_MEDIA, COMPLAINT_RIGHTS, bundle_response, emit, stored_bundle, today_uk
from api.problems import Problem, problem_responses
from api.schemas.cases import Accepted, CitizenCase, CitizenCases, CitizenOpens, CitizenQuery
from api.schemas.common import OrganisationPublic
from ledger.catalogue.requests import QUERY_RAISED, SAR_RECEIVED
from ledger.dsar.rules import QUERY, REQUEST
from projections import cases as case_view
from projections import wording
from projections.cases import CaseRow
from projections.timeline import ACCESS, SHARE

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])

NOT_FOUND = Problem(404, "case-not-found", "You have no such request or question")


def _steps(case: CaseRow, history: list[dict[str, Any]], name: str) -> list[str]:
    kind = "query" if case.kind == QUERY else "subject-access-request"
    sentences = []
    for row in history:
        step = row["step"]
        if step == "redaction-decided":
            continue  # the officer's working, shown in the response itself
        if case.kind == QUERY:
            step = {"received": "raised"}.get(step, step)
        detail = {"change": step}
        if step == "answered" and case.outcome_detail:
            detail["explanation"] = case.outcome_detail.get("explanation", "")
        sentences.append(wording.describe_change(kind, name, row["at"], detail))
    return sentences


async def _citizen_case(views: Views, case: CaseRow, names: dict[str, str]) -> CitizenCase:
    today = today_uk()
    name = names.get(case.organisation, case.organisation)
    found = None
    if case.state not in ("responded", "refused", "answered", "closed"):
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


@router.get(
    "/{subject}/requests",
    response_model=CitizenCases,
    responses=problem_responses(400, 401, 403, 404, 503),
)
async def my_requests(subject: OwnSubject, views: Views) -> CitizenCases:
    """Your requests for your data and your questions about its use, newest first, with
    where each stands and when it is due."""
    rows = await case_view.cases_of_subjects(views, [subject.key])
    names = await views.organisation_names(sorted({row.organisation for row in rows}))
    return CitizenCases(cases=[await _citizen_case(views, row, names) for row in rows])


async def _answer(
    request: Request,
    views: Views,
    subject: OwnSubject,
    kind: str,
    organisation: str,
    reference: str,
    position: int,
) -> JSONResponse:
    settings = request.app.state.settings
    headers = {"Ledger-Position": str(position)}
    if await views.reached(position, ("cases", "timeline"), settings.read_wait_seconds):
        found = await case_view.case_by_reference(views, organisation, kind, reference)
        if found is not None and found.subject_key == subject.key:
            names = await views.organisation_names([organisation])
            body = await _citizen_case(views, found, names)
            return JSONResponse(body.model_dump(mode="json"), status_code=201, headers=headers)
    accepted = Accepted(
        reference=reference, position=position, detail="Recorded; it will show shortly"
    )
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202, headers=headers)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": CitizenCase, "description": "Recorded, and where it now stands"},
    202: {"model": Accepted, "description": "Recorded; it will show shortly"},
    **problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
}


@router.post(
    "/{subject}/requests", status_code=201, response_model=CitizenCase, responses=_RESPONSES
)
async def open_my_request(
    body: CitizenOpens, subject: OwnSubject, request: Request, views: Views
) -> JSONResponse:
    """Ask an organisation for a copy of the data it holds about you (UK GDPR Article 15)."""
    names = await views.organisation_names([body.organisation])
    if body.organisation not in names:
        raise Problem(404, "organisation-unknown", "There is no such organisation")
    reference = f"SAR-{today_uk():%Y}-{secrets.token_hex(4).upper()}"
    data = {
        "case": {"organisation": body.organisation, "reference": reference},
        "subjects": [{"scheme": subject.id.scheme, "value": subject.id.value}],
        "channel": "online",
        "requester": "subject",
        "identity_required": False,
    }
    position = await emit(request, body.organisation, SAR_RECEIVED, data, datetime.now(UTC))
    return await _answer(request, views, subject, REQUEST, body.organisation, reference, position)


@router.post(
    "/{subject}/queries", status_code=201, response_model=CitizenCase, responses=_RESPONSES
)
async def raise_query(
    body: CitizenQuery, subject: OwnSubject, request: Request, views: Views
) -> JSONResponse:
    """Ask the organisation that made one entry of your record (a look at your data, or a
    share of it) to explain it: "I don't recognise this"."""
    rows = await views.rows(
        "SELECT kind, organisation FROM timeline.entries "
        "WHERE subject_key = %s AND position = %s AND kind = ANY(%s)",
        (subject.key, body.position, [ACCESS, SHARE]),
    )
    if not rows:
        raise Problem(
            404,
            "entry-not-found",
            "There is no such entry in your record",
            "a question is about one look at your data or one share of it",
        )
    organisation = rows[0]["organisation"]
    reference = f"Q-{today_uk():%Y}-{secrets.token_hex(4).upper()}"
    data = {
        "query": {"organisation": organisation, "reference": reference},
        "subjects": [{"scheme": subject.id.scheme, "value": subject.id.value}],
        "about": {"position": body.position},
        "concern": body.concern,
    }
    position = await emit(request, organisation, QUERY_RAISED, data, datetime.now(UTC))
    return await _answer(request, views, subject, QUERY, organisation, reference, position)


@router.get(
    "/{subject}/requests/{organisation}/{reference}/bundle",
    response_class=Response,
    responses={
        200: {
            "description": "The answer to your request: JSON (signed, checkable), HTML or PDF",
            "content": BUNDLE_MEDIA,
        },
        **problem_responses(400, 401, 403, 404, 503),
    },
)
async def my_response(
    organisation: Annotated[str, Path(pattern=ORGANISATION)],
    reference: str,
    subject: OwnSubject,
    request: Request,
    views: Views,
    form: Annotated[str, Query(alias="format", pattern="^(json|html|pdf)$")] = "json",
) -> Response:
    """Download the answer an organisation sent to your request for your data. Anyone
    can check the JSON against the ledger's public key (`ledger verify bundle FILE`)."""
    case = await case_view.case_by_reference(views, organisation, REQUEST, reference)
    if case is None or case.subject_key != subject.key:
        raise NOT_FOUND
    sha256 = (
        (case.outcome_detail or {}).get("bundle_sha256") if case.outcome == "responded" else None
    )
    bundle = await stored_bundle(request, str(sha256)) if sha256 else None
    if bundle is None:
        raise Problem(404, "no-response-yet", "There is no answer to download yet")
    return bundle_response(bundle, form, reference)
