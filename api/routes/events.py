"""Submitting signed events over HTTP: the same envelope and checks as Kafka.

The body bytes are the signed CloudEvent, verified exactly as received. Two checks
authenticate the caller: a bearer token with the service role (401/403 before the body
is read), and the event's signature by a key of a service of the token's organisation
(403 ``forbidden`` otherwise, not stored: it is the caller, not the event, that is
refused). Refusals are stored (channel
``http``), answered as RFC 9457 problem details whose ``type`` ends with the reason
code, and published to ``ledger.rejected`` by the relay like every stored refusal.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth.policy import Service, forbidden
from api.auth.tokens import Principal
from api.problems import PROBLEM_BASE
from ledger.application import Ledger
from ledger.intake import Intake
from ledger.recording import direct_refusal
from ledger.refusals import Reason, Refusal

router = APIRouter(prefix="/v1/events", tags=["services"])

STATUS = {
    Reason.OVERSIZED: 413,
    Reason.MALFORMED_JSON: 400,
    Reason.NOT_A_CLOUDEVENT: 400,
    Reason.UNKNOWN_KEY: 401,
    Reason.BAD_SIGNATURE: 401,
    Reason.NOT_AUTHORISED: 403,
    Reason.REVOKED_KEY: 403,
    Reason.RETIRED_KEY: 403,
    Reason.INVARIANT_VIOLATED: 409,
}
TITLES = {
    Reason.OVERSIZED: "The event is too large",
    Reason.MALFORMED_JSON: "The body is not strict JSON",
    Reason.NOT_A_CLOUDEVENT: "The body is not a CloudEvent",
    Reason.UNKNOWN_TYPE: "The event type is not in the catalogue",
    Reason.UNKNOWN_VERSION: "This version of the event type is not in the catalogue",
    Reason.SCHEMA_VIOLATION: "The event does not match its schema",
    Reason.INVALID_SUBJECT: "A subject identifier is not valid",
    Reason.UNKNOWN_KEY: "The signing key is not registered",
    Reason.BAD_SIGNATURE: "The signature does not verify",
    Reason.NOT_AUTHORISED: "The service may not emit this event",
    Reason.TIME_IN_FUTURE: "The event time is too far in the future",
    Reason.TIME_IN_PAST: "The event time is too far in the past",
    Reason.REVOKED_KEY: "The signing key was revoked before the event time",
    Reason.RETIRED_KEY: "The signing key was rotated before the event time",
    Reason.INVARIANT_VIOLATED: "The event is impossible in the current state",
}
# A concurrent writer to the same aggregate (optimistic concurrency): try again.
ATTEMPTS = 3


def _problem(refusal: Refusal) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + refusal.reason,
        "title": TITLES.get(refusal.reason, "The event was refused"),
        "status": STATUS.get(refusal.reason, 422),
        "detail": refusal.detail,
        "reason": str(refusal.reason),
    }
    if refusal.pointer:
        body["pointer"] = refusal.pointer
    return JSONResponse(body, status_code=body["status"], media_type="application/problem+json")


@router.post(
    "",
    status_code=202,
    responses={202: {"description": "Recorded (or already recorded): its ledger position"}},
)
async def submit_event(request: Request, principal: Service) -> JSONResponse:
    """Record one signed CloudEvent; 202 with its ledger position, or a problem."""
    state = request.app.state
    intake: Intake = state.intake
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > intake.max_bytes:
        # Refused unread: the stored refusal keeps no bytes of a body this large.
        refusal = Refusal(Reason.OVERSIZED, f"{declared} bytes declared; limit {intake.max_bytes}")
        await run_in_threadpool(state.ledger.record, [], [intake.refusal_row(refusal, b"", "http")])
        return _problem(refusal)
    raw = await request.body()
    return await run_in_threadpool(_record, state.ledger, intake, raw, principal)


def _signer_organisation(ledger: Ledger, raw: bytes) -> str | None:
    # Only called once the intake has verified the signature, so the key is known.
    key = ledger.key(str(orjson.loads(raw).get("signingkey", "")))
    return key.organisation if key else None


def _record(ledger: Ledger, intake: Intake, raw: bytes, principal: Principal) -> JSONResponse:
    try:
        submission = intake.assess(raw)
    except Refusal as refusal:
        ledger.record([], refusals=[intake.refusal_row(refusal, raw, "http")])
        return _problem(refusal)
    if principal.organisation is None or principal.organisation != _signer_organisation(
        ledger, raw
    ):
        problem = forbidden()
        body = {"type": PROBLEM_BASE + problem.code, "title": problem.title, "status": 403}
        return JSONResponse(body, status_code=403, media_type="application/problem+json")
    for attempt in range(1, ATTEMPTS + 1):
        try:
            outcome = ledger.record_batch(
                [submission],
                refusal_for=lambda _, refusal: direct_refusal(submission, refusal, "http"),
            )
            break
        except IntegrityError:
            # Another request (or worker) recorded the same (source, id) a moment ago;
            # the retry finds it and answers with the original position.
            if attempt == ATTEMPTS:
                raise
            time.sleep(0.01 * attempt)
    if 0 in outcome.refused:
        row = outcome.refused[0]
        return _problem(Refusal(Reason(row.reason), row.detail, row.pointer))
    return JSONResponse(
        {
            "id": submission.event_id,
            "source": submission.source,
            "position": outcome.positions[0],
            "duplicate": 0 in outcome.duplicates,
        },
        status_code=202,
    )
