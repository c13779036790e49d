"""Submitting signed events over HTTP: the same envelope, checks and write path as Kafka.

The route only translates. The caller is authenticated first (a bearer token with the
service role, naming its organisation: 401/403 before a byte of the body is read);
the body is read while it streams, and reading stops once it passes
``LEDGER_MAX_EVENT_BYTES``, chunked or not; then the bytes and their origin (the
request and the caller) go to the ledger's one write path, which answers the outcome.
The event must be signed by a key of the caller's organisation. Refusals are stored
(channel ``http``, with the caller), answered as RFC 9457 problem details whose
``type`` ends with the reason code, and published to ``ledger.rejected`` like every
stored refusal.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth.policy import Service, forbidden
from api.problems import PROBLEM_BASE, problem_responses
from ledger.incoming import HttpRequest, Incoming, Outcome, Status
from ledger.refusals import Reason, Refusal
from ledger.writing import WritePath

router = APIRouter(prefix="/v1/events", tags=["services"])

# A declared Content-Length of more digits than this is taken as this many bytes.
DIGITS_BELIEVED = 18
LARGEST_BELIEVED = 10**DIGITS_BELIEVED

STATUS = {
    Reason.OVERSIZED: 413,
    Reason.TOO_DEEP: 400,
    Reason.MALFORMED_JSON: 400,
    Reason.NOT_A_CLOUDEVENT: 400,
    Reason.UNKNOWN_KEY: 401,
    Reason.BAD_SIGNATURE: 401,
    Reason.NOT_AUTHORISED: 403,
    Reason.REVOKED_KEY: 403,
    Reason.RETIRED_KEY: 403,
    Reason.INVARIANT_VIOLATED: 409,
    Reason.CONFLICTING_RESEND: 409,
}
TITLES = {
    Reason.OVERSIZED: "The event is too large",
    Reason.TOO_DEEP: "The event nests too deep",
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
    Reason.CONFLICTING_RESEND: "This id was recorded before with other content",
    Reason.UNPROCESSABLE: "The ledger could not process the event",
}


class Recorded(BaseModel):
    """Where an accepted event is in the ledger."""

    id: str
    source: str
    position: int
    duplicate: bool


def write_path(request: Request) -> WritePath:
    path: WritePath = request.app.state.write_path
    return path


Writer = Annotated[WritePath, Depends(write_path)]


def _problem(refusal: Refusal) -> JSONResponse:
    body: dict[str, object] = {
        "type": PROBLEM_BASE + refusal.reason,
        "title": TITLES.get(refusal.reason, "The event was refused"),
        "status": STATUS.get(refusal.reason, 422),
        "detail": refusal.detail,
        "reason": str(refusal.reason),
    }
    if refusal.pointer:
        body["pointer"] = refusal.pointer
    return JSONResponse(
        body, status_code=int(str(body["status"])), media_type="application/problem+json"
    )


async def read_bounded(request: Request, limit: int) -> tuple[bytes, int | None]:
    """The body, read while it streams until it passes ``limit`` bytes: (all of it,
    None), or (its first ``limit + 1`` bytes, its size: declared, else at least that)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit():
        # Believed up to what the refusal can store (bigint), without reading a longer
        # run of digits as a number at all.
        size = int(declared) if len(declared) <= DIGITS_BELIEVED else LARGEST_BELIEVED
        if size > limit:
            return b"", size  # refused unread
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            return bytes(received[: limit + 1]), len(received)
    return bytes(received), None


@router.post(
    "",
    status_code=202,
    response_model=Recorded,
    responses={
        202: {"description": "Recorded (or already recorded): its ledger position"},
        **problem_responses(400, 401, 403, 409, 413, 422, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One signed CloudEvent, structured JSON mode (docs/contract)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def submit_event(request: Request, principal: Service, ledger: Writer) -> JSONResponse:
    """Record one signed CloudEvent; 202 with its ledger position, or a problem."""
    if principal.organisation is None:
        raise forbidden()
    raw, size = await read_bounded(request, ledger.intake.max_bytes)
    origin = HttpRequest(str(uuid.uuid4()), principal.organisation, principal.subject)
    (outcome,) = await run_in_threadpool(ledger.submit, [Incoming(raw, origin, size)])
    return _answer(outcome)


def _answer(outcome: Outcome) -> JSONResponse:
    if outcome.status is Status.REFUSED:
        assert outcome.refusal is not None
        return _problem(outcome.refusal)
    assert outcome.position is not None and outcome.source and outcome.event_id
    answer = Recorded(
        id=outcome.event_id,
        source=outcome.source,
        position=outcome.position,
        duplicate=outcome.status is Status.DUPLICATE,
    )
    return JSONResponse(answer.model_dump(), status_code=202)
