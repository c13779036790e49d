"""DSAR officers: their organisation's subject access requests and queries, and every
action on them.

An officer acts only on their own organisation's cases (the ``org`` of their token);
another organisation's case answers 404, as a case that does not exist would. Each
action is checked against the case's state (:mod:`ledger.dsar.rules`) and refused as
problem details with the rule's code; an allowed one becomes a CloudEvent signed with
the organisation's DSAR service key (held by the ledger, :mod:`ledger.dsar.keys`),
naming the officer (the ledger keeps only a pseudonym), and goes through the ledger's
one write path like every other event. The answer is the case as the view then shows
it (or 202 if the view has not caught up within the read-your-writes bound).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth.policy import Officer, forbidden
from api.deps import Day, Pseudonyms, Views, parse_subject
from api.dsar import (
    BUNDLE_MEDIA,
    COMPLAINT_RIGHTS,
    accepted,
    build_bundle_for,
    bundle_response,
    case_once_shown,
    emit,
    shown,
    stored_bundle,
    today_uk,
)
from api.problems import Problem, problem_responses
from api.schemas.cases import (
    Accepted,
    Answer,
    CaseStep,
    CaseSummary,
    CaseView,
    Deadline,
    Extend,
    OpenRequest,
    Queue,
    Redact,
    RedactionDecision,
    Refuse,
    Respond,
    Step,
    VerifyIdentity,
)
from ledger.catalogue.requests import (
    QUERY_ANSWERED,
    SAR_CLARIFICATION_RECEIVED,
    SAR_CLARIFICATION_REQUESTED,
    SAR_CLOSED,
    SAR_EXTENDED,
    SAR_IDENTITY_VERIFIED,
    SAR_RECEIVED,
    SAR_REDACTION_DECIDED,
    SAR_REFUSED,
    SAR_RESPONDED,
)
from ledger.dsar.rules import QUERY, REQUEST, Action, NotAllowed, State, check
from ledger.transparency.reader import LogLookupError
from projections import cases as case_view
from projections.cases import CaseRow, QueueFilter

router = APIRouter(prefix="/v1/dsar", tags=["dsar"])

NOT_FOUND = Problem(404, "case-not-found", "There is no such case in your organisation")
QUEUE_LIMIT = 200


def _organisation(principal: Any) -> str:
    if not principal.organisation:
        raise forbidden()
    return str(principal.organisation)


def deadline_of(case: CaseRow, today: date) -> Deadline | None:
    found = case.deadline(today)
    if found is None:
        return None
    days_left = (found.due - today).days
    return Deadline(
        start=found.start,
        due=found.due,
        days_left=days_left,
        overdue=days_left < 0 and not found.stopped,
        stopped=found.stopped,
        provisional=found.provisional,
        paused_days=found.paused_days,
        extension_notice_by=found.extension_notice_by,
        explanation=list(found.steps),
    )


def summary(case: CaseRow, today: date) -> CaseSummary:
    found = deadline_of(case, today)
    return CaseSummary(
        kind=case.kind,  # type: ignore[arg-type]
        reference=case.reference,
        state=case.state,
        received_at=case.received_at,
        due=found.due if found else None,
        days_left=found.days_left if found else None,
        overdue=found.overdue if found else False,
    )


async def case_view_of(views: Views, case: CaseRow, today: date) -> CaseView:
    steps = await case_view.history(views, case.case_id)
    decisions = await case_view.redactions(views, case.case_id)
    brief = summary(case, today)
    return CaseView(
        **brief.model_dump(),
        organisation=case.organisation,
        channel=case.channel,
        requester=case.requester,
        identity_required=case.identity_required,
        identity_verified_at=case.identity_at,
        pauses=[
            [date.fromisoformat(a) if a else None, date.fromisoformat(b) if b else None]
            for a, b in case.pauses
        ],
        extension=case.extension,
        outcome=case.outcome_detail,
        about_position=case.about_position,
        concern=case.concern,
        deadline=deadline_of(case, today),
        history=[
            CaseStep(
                position=row["position"],
                step=row["step"],
                at=row["at"],
                by_officer=row["officer_key"],
                detail=row["detail"],
            )
            for row in steps
        ],
        redactions=[
            RedactionDecision(
                position=row["position"],
                item_position=row["item_position"],
                field=row["field"],
                disclose=row["disclose"],
                reason=row["reason"],
                by_officer=row["officer_key"],
                at=row["at"],
            )
            for row in decisions
        ],
        complaint_rights=COMPLAINT_RIGHTS if case.outcome == "refused" else None,
    )


def _cursor(case: CaseRow) -> str:
    due = case.due.isoformat() if case.due else "infinity"
    text = f"{due}|{case.kind}|{case.reference}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> tuple[date, str, str] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        due, kind, reference = base64.urlsafe_b64decode(padded).decode().split("|", 2)
        return (date.max if due == "infinity" else date.fromisoformat(due), kind, reference)
    except ValueError:
        raise Problem(
            400, "invalid-cursor", "The ?after= cursor is not one this API gave"
        ) from None


@router.get(
    "/cases",
    response_model=Queue,
    responses=problem_responses(400, 401, 403, 503),
)
async def cases_queue(
    principal: Officer,
    views: Views,
    state: Annotated[
        list[State] | None, Query(description="Only cases in these states (repeatable)")
    ] = None,
    kind: Annotated[str | None, Query(pattern="^(request|query)$")] = None,
    due_before: Annotated[Day | None, Query(description="Only cases due before this day")] = None,
    overdue: Annotated[bool, Query(description="Only open cases past their due date")] = False,
    limit: Annotated[int, Query(ge=1, le=QUEUE_LIMIT)] = 50,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Queue:
    """Your organisation's cases, soonest due first (those not yet running last)."""
    organisation = _organisation(principal)
    today = today_uk()
    where = QueueFilter(
        states=tuple(str(s) for s in state or ()),
        kind=kind,
        due_before=due_before,
        overdue_on=today if overdue else None,
    )
    rows = await case_view.queue(views, organisation, where, limit=limit, after=_after(after))
    return Queue(
        cases=[summary(row, today) for row in rows],
        next=_cursor(rows[-1]) if len(rows) == limit else None,
    )


async def _case(views: Views, principal: Any, kind: str, reference: str) -> CaseRow:
    found = await case_view.case_by_reference(views, _organisation(principal), kind, reference)
    if found is None:
        raise NOT_FOUND
    return found


@router.get(
    "/requests/{reference}",
    response_model=CaseView,
    responses=problem_responses(400, 401, 403, 404, 503),
)
async def request_case(reference: str, principal: Officer, views: Views) -> CaseView:
    """One subject access request: state, due date (and how it was worked out), history."""
    return await case_view_of(views, await _case(views, principal, REQUEST, reference), today_uk())


@router.get(
    "/queries/{reference}",
    response_model=CaseView,
    responses=problem_responses(400, 401, 403, 404, 503),
)
async def query_case(reference: str, principal: Officer, views: Views) -> CaseView:
    """One citizen's query about an access."""
    return await case_view_of(views, await _case(views, principal, QUERY, reference), today_uk())


async def _answer(
    request: Request, views: Views, organisation: str, kind: str, reference: str, position: int
) -> JSONResponse:
    found = await case_once_shown(request, position, organisation, kind, reference)
    if found is None:
        return accepted(reference, position)
    return shown(await case_view_of(views, found, today_uk()), position)


def _when(at: datetime | None) -> datetime:
    now = datetime.now(UTC)
    if at is None:
        return now
    if at.tzinfo is None:
        raise Problem(400, "time-without-offset", "Times need an offset, e.g. 2026-03-03T09:00:00Z")
    if at > now:
        raise Problem(400, "time-in-future", "An action cannot be recorded as happening later")
    return at.astimezone(UTC)


_CASE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": CaseView, "description": "The case as it now stands"},
    202: {"model": Accepted, "description": "Recorded; the case view has not caught up yet"},
    **problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
}


@router.post("/requests", status_code=201, response_model=CaseView, responses=_CASE_RESPONSES)
async def open_request(
    body: OpenRequest, request: Request, principal: Officer, views: Views, pseudonyms: Pseudonyms
) -> JSONResponse:
    """Open a subject access request received by your organisation."""
    organisation = _organisation(principal)
    subject = parse_subject(body.subject)
    reference = body.reference or f"SAR-{today_uk():%Y}-{secrets.token_hex(4).upper()}"
    if await case_view.case_by_reference(views, organisation, REQUEST, reference):
        raise Problem(
            409, "reference-in-use", "Your organisation already has a case with that reference"
        )
    data = {
        "case": {"organisation": organisation, "reference": reference},
        "officer": principal.subject,
        "subjects": [{"scheme": subject.scheme, "value": subject.value}],
        "channel": body.channel,
        "requester": body.requester,
        "identity_required": body.identity_required,
    }
    position = await emit(
        request, organisation, SAR_RECEIVED, data, _when(body.received_at), principal
    )
    response = await _answer(request, views, organisation, REQUEST, reference, position)
    if response.status_code == 200:
        response.status_code = 201
    return response


# The event each action records.
EVENT_TYPES: dict[Action, str] = {
    Action.VERIFY_IDENTITY: SAR_IDENTITY_VERIFIED,
    Action.REQUEST_CLARIFICATION: SAR_CLARIFICATION_REQUESTED,
    Action.RECEIVE_CLARIFICATION: SAR_CLARIFICATION_RECEIVED,
    Action.EXTEND: SAR_EXTENDED,
    Action.RESPOND: SAR_RESPONDED,
    Action.REFUSE: SAR_REFUSED,
    Action.CLOSE: SAR_CLOSED,
    Action.DECIDE_REDACTION: SAR_REDACTION_DECIDED,
    Action.ANSWER: QUERY_ANSWERED,
}


def _kind_of(action: Action) -> str:
    """The kind of case an action is taken on: a query is answered, a request the rest."""
    return QUERY if action is Action.ANSWER else REQUEST


async def _allowed(
    views: Views, principal: Any, reference: str, action: Action, reason: str | None = None
) -> CaseRow:
    """The officer's organisation's case, if ``action`` may be taken on it today; a 404 or
    409 problem otherwise."""
    case = await _case(views, principal, _kind_of(action), reference)
    today = today_uk()
    found = case.deadline(today)
    try:
        check(
            case.facts,
            action,
            today=today,
            notice_by=found.extension_notice_by if found else None,
            reason=reason,
        )
    except NotAllowed as refused:
        raise Problem(
            409, refused.code, "That is not allowed in the case's state", refused.detail
        ) from None
    return case


async def _record(
    request: Request,
    views: Views,
    principal: Any,
    case: CaseRow,
    action: Action,
    fields: dict[str, Any],
    at: datetime | None,
) -> JSONResponse:
    """Sign ``action`` on ``case`` as the officer's, record it, and answer the case."""
    key = "query" if case.kind == QUERY else "case"
    data = {
        key: {"organisation": case.organisation, "reference": case.reference},
        "officer": principal.subject,
        **fields,
    }
    event_type = EVENT_TYPES[action]
    position = await emit(request, case.organisation, event_type, data, _when(at), principal)
    return await _answer(request, views, case.organisation, case.kind, case.reference, position)


async def _act(
    request: Request,
    views: Views,
    principal: Any,
    reference: str,
    action: Action,
    fields: dict[str, Any],
    at: datetime | None,
    reason: str | None = None,
) -> JSONResponse:
    case = await _allowed(views, principal, reference, action, reason)
    return await _record(request, views, principal, case, action, fields, at)


@router.post(
    "/requests/{reference}/identity-verified", response_model=CaseView, responses=_CASE_RESPONSES
)
async def identity_verified(
    reference: str, body: VerifyIdentity, request: Request, principal: Officer, views: Views
) -> JSONResponse:
    """Record that the requester's identity (or a representative's authority) was verified:
    the month runs from that day."""
    fields = {"method": body.method.model_dump()}
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.VERIFY_IDENTITY,
        fields,
        body.at,
    )


@router.post(
    "/requests/{reference}/clarification-requested",
    response_model=CaseView,
    responses=_CASE_RESPONSES,
)
async def clarification_requested(
    reference: str, request: Request, principal: Officer, views: Views, body: Step | None = None
) -> JSONResponse:
    """Record that you asked the requester to clarify what they want: the clock stops
    from today until their answer arrives (both days excluded). Asking about format
    does not stop the clock: do not record it here."""
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.REQUEST_CLARIFICATION,
        {},
        body.at if body else None,
    )


@router.post(
    "/requests/{reference}/clarification-received",
    response_model=CaseView,
    responses=_CASE_RESPONSES,
)
async def clarification_received(
    reference: str, request: Request, principal: Officer, views: Views, body: Step | None = None
) -> JSONResponse:
    """Record the requester's clarification: the clock runs again."""
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.RECEIVE_CLARIFICATION,
        {},
        body.at if body else None,
    )


@router.post("/requests/{reference}/extended", response_model=CaseView, responses=_CASE_RESPONSES)
async def extended(
    reference: str, body: Extend, request: Request, principal: Officer, views: Views
) -> JSONResponse:
    """Extend the time by up to two further months (a complex request, or many): once,
    with a reason, by the end of the first month; you must tell the requester, with
    the reason, by then."""
    told = _when(body.requester_told_at)
    fields = {
        "months": body.months,
        "reason": body.reason,
        "requester_told_at": told.isoformat().replace("+00:00", "Z"),
    }
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.EXTEND,
        fields,
        body.at,
        body.reason,
    )


@router.post("/requests/{reference}/refused", response_model=CaseView, responses=_CASE_RESPONSES)
async def refused(
    reference: str, body: Refuse, request: Request, principal: Officer, views: Views
) -> JSONResponse:
    """Refuse a manifestly unfounded or excessive request, with the reason. The
    requester is told of their right to complain to the ICO and to go to court (the
    answer's ``complaint_rights``)."""
    fields = {
        "refusal": {"grounds": body.grounds, "reason": body.reason, "complaint_rights_given": True}
    }
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.REFUSE,
        fields,
        body.at,
        body.reason,
    )


@router.post("/requests/{reference}/closed", response_model=CaseView, responses=_CASE_RESPONSES)
async def closed(
    reference: str, request: Request, principal: Officer, views: Views, body: Step | None = None
) -> JSONResponse:
    """Close an answered request."""
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.CLOSE,
        {},
        body.at if body else None,
    )


@router.post("/requests/{reference}/redactions", response_model=CaseView, responses=_CASE_RESPONSES)
async def redaction(
    reference: str, body: Redact, request: Request, principal: Officer, views: Views
) -> JSONResponse:
    """Decide whether an item of third-party data (the official named by the event at a
    ledger position) is disclosed in the response; officials are redacted unless you
    disclose them, with a reason (which must name no one)."""
    fields = {
        "item": {"position": body.position, "field": body.field},
        "disclose": body.disclose,
        "reason": body.reason,
    }
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.DECIDE_REDACTION,
        fields,
        body.at,
        body.reason,
    )


@router.post("/queries/{reference}/answer", response_model=CaseView, responses=_CASE_RESPONSES)
async def answer_query(
    reference: str, body: Answer, request: Request, principal: Officer, views: Views
) -> JSONResponse:
    """Answer a citizen's query about an access, in plain English: the explanation is
    shown in their record."""
    fields = {"explanation": body.explanation}
    return await _act(
        request,
        views,
        principal,
        reference,
        Action.ANSWER,
        fields,
        body.at,
        body.explanation,
    )


@router.post("/requests/{reference}/responded", response_model=CaseView, responses=_CASE_RESPONSES)
async def responded(
    reference: str, request: Request, principal: Officer, views: Views, body: Respond | None = None
) -> JSONResponse:
    """Respond: the ledger gathers what a reasonable and proportionate search finds about
    the person in its records involving your organisation, with all eleven items Art. 15
    requires, officials redacted unless you disclosed them; signs it with a manifest of
    inclusion proofs; keeps it for the requester to download; and records its SHA-256 in
    the ``responded`` event."""
    body = body or Respond.model_validate({})
    case = await _allowed(views, principal, reference, Action.RESPOND)
    decisions = await case_view.redactions(views, case.case_id)
    names = await views.organisation_names([case.organisation])
    try:
        bundle = await run_in_threadpool(
            build_bundle_for,
            request,
            case,
            decisions,
            names.get(case.organisation, case.organisation),
        )
    except LogLookupError as missing:
        raise Problem(503, missing.code, missing.title, missing.detail) from None
    fields = {
        "response": {
            "bundle_sha256": bundle.sha256,
            "channel": body.channel,
            "records": bundle.records,
            "redactions": bundle.redactions,
        }
    }
    return await _record(request, views, principal, case, Action.RESPOND, fields, body.at)


BundleForm = Annotated[str, Query(alias="format", pattern="^(json|html|pdf)$")]


@router.get(
    "/requests/{reference}/bundle",
    response_class=Response,
    responses={
        200: {
            "description": "The response bundle: JSON (the signed document), HTML or PDF",
            "content": BUNDLE_MEDIA,
        },
        **problem_responses(400, 401, 403, 404, 503),
    },
)
async def request_bundle(
    reference: str, request: Request, principal: Officer, views: Views, form: BundleForm = "json"
) -> Response:
    """The response sent for this request, as the requester receives it. Check the JSON
    offline with `ledger verify bundle FILE`."""
    case = await _case(views, principal, REQUEST, reference)
    return await _bundle_of(request, case, form)


async def _bundle_of(request: Request, case: CaseRow, form: str) -> Response:
    sha256 = (
        (case.outcome_detail or {}).get("bundle_sha256") if case.outcome == "responded" else None
    )
    if not sha256:
        raise Problem(404, "no-response-yet", "This request has not been answered with a response")
    bundle = await stored_bundle(request, str(sha256))
    if bundle is None:
        raise Problem(
            404,
            "response-not-kept",
            "The ledger does not hold this response",
            "it was sent by another system; the requester has it from there",
        )
    return bundle_response(bundle, form, case.reference)
