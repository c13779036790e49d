"""Citizens: ask an organisation for a copy of their data, ask it about one entry of
their record ("I don't recognise this"), and follow both.

A citizen reads and acts only on the subjects linked to their account (403 otherwise,
as for the timeline). A request they open is recorded as received through the
organisation's DSAR service (its key, held by the ledger): they signed in, so no
further identity check is asked for and the month runs from today. A query is routed
to the organisation that made the entry they ask about.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api.citizen_cases import citizen_case, citizen_cases, record_query, record_request
from api.deps import ORGANISATION, OwnSubject, Views
from api.dsar import (
    BUNDLE_MEDIA,
    accepted,
    bundle_response,
    case_once_shown,
    shown,
    stored_bundle,
)
from api.problems import Problem, problem_responses
from api.schemas.cases import Accepted, CitizenCase, CitizenCases, CitizenOpens, CitizenQuery
from ledger.dsar.rules import QUERY, REQUEST
from projections import cases as case_view
from projections.timeline import ACCESS, SHARE

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])

NOT_FOUND = Problem(404, "case-not-found", "You have no such request or question")


@router.get(
    "/{subject}/requests",
    response_model=CitizenCases,
    responses=problem_responses(400, 401, 403, 404, 503),
)
async def my_requests(subject: OwnSubject, views: Views) -> CitizenCases:
    """Your requests for your data and your questions about its use, newest first, with
    where each stands and when it is due."""
    return CitizenCases(cases=await citizen_cases(views, [subject.key]))


async def _answer(
    request: Request,
    views: Views,
    subject: OwnSubject,
    kind: str,
    organisation: str,
    reference: str,
    position: int,
) -> JSONResponse:
    found = await case_once_shown(
        request, position, organisation, kind, reference, ("cases", "timeline")
    )
    if found is None or found.subject_key != subject.key:
        return accepted(reference, position)
    names = await views.organisation_names([organisation])
    return shown(await citizen_case(views, found, names), position, 201)


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
    reference, position = await record_request(request, subject, body.organisation)
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
    reference, position = await record_query(
        request, subject, organisation, body.position, body.concern
    )
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
