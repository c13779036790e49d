"""Erasure requests (UK GDPR Art. 17): a DSAR officer records the decision.

Most records in this ledger are kept under a legal obligation or a public task, so an
erasure request is often refused (Art. 17(3)(b)): the officer records the decision, its
basis and, when refused, the reason, and the ledger records it in the log. Upheld, the
ledger erases the person's data in their own organisation's records at once, by
destroying its data keys (``ledger.erasure``); the timeline then says "details
removed" where each entry was. An officer acts for their own organisation only.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator
from starlette.concurrency import run_in_threadpool

from api.auth.policy import Officer
from api.deps import parse_subject
from api.problems import Problem, problem_responses
from api.schemas.cases import REFERENCE, _Strict
from ledger.domain.erasure import REFUSED, KeysChanged

router = APIRouter(prefix="/v1/dsar", tags=["dsar"])


class ErasureDecision(_Strict):
    subject: str = Field(
        description="The requester's identifier, scheme:value", examples=["nino:AB123456C"]
    )
    decision: Literal["upheld", "refused"]
    basis: str = Field(
        min_length=1,
        max_length=500,
        description="Upheld: the Art. 17(1) ground; refused: the Art. 17(3) exemption",
        examples=["UK GDPR Article 17(1)(a): no longer necessary for the purpose"],
    )
    reason: str | None = Field(
        None, min_length=1, max_length=2000, description="Why (required when refused)"
    )
    reference: str | None = Field(None, pattern=REFERENCE, description="Your case reference")

    @model_validator(mode="after")
    def _refusal_has_reason(self) -> ErasureDecision:
        if self.decision == REFUSED and not self.reason:
            raise ValueError("a refusal needs its reason (the requester is told it)")
        return self


class ErasureRecorded(_Strict):
    decision: Literal["upheld", "refused"]
    events_erased: int = Field(description="Events whose data keys were destroyed")
    keys_destroyed: int
    positions: list[int] = Field(description="Where the log records the decision")


@router.post(
    "/erasures",
    status_code=201,
    response_model=ErasureRecorded,
    responses=problem_responses(400, 401, 403, 409, 422, 503),
)
async def decide_erasure(
    body: ErasureDecision, request: Request, principal: Officer
) -> JSONResponse:
    """Record your organisation's decision on an erasure request; upheld, erase the
    person's data in your organisation's records now."""
    organisation = principal.organisation
    if not organisation:
        raise Problem(403, "forbidden", "An officer acts for an organisation")
    subject = parse_subject(body.subject)
    keyring = request.app.state.keyring
    pseudonym = keyring.pseudonymiser.subject_key(subject)
    officer = keyring.pseudonymiser.opaque("official", principal.subject)
    eraser = request.app.state.eraser
    try:
        done = await run_in_threadpool(
            eraser.decide,
            pseudonym,
            organisation,
            body.decision,
            body.basis,
            body.reason,
            body.reference,
            officer,
        )
    except KeysChanged:
        raise Problem(
            409,
            "erasure-in-progress",
            "Another erasure of the same records was recorded first",
            "nothing was erased; send the decision again",
        ) from None
    return JSONResponse(
        ErasureRecorded(
            decision="refused" if done.refused else "upheld",
            events_erased=done.events,
            keys_destroyed=done.keys,
            positions=done.erasures,
        ).model_dump(),
        status_code=201,
    )
