"""A citizen's consents and opt-outs: their state now, and how it changed; and the
signed receipt of each change to a consent."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from api.citizen_consents import citizen_consents
from api.consent_receipts import consent_receipt
from api.deps import MAX_POSITION, Log, OwnSubject, Views, own_subject, read_your_writes
from api.problems import problem_responses
from api.schemas.consents import ConsentReceiptPublic, ConsentsPublic

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])


@router.get(
    "/{subject}/consents",
    response_model=ConsentsPublic,
    responses=problem_responses(400, 401, 403, 404, 503),
    dependencies=[Depends(read_your_writes("consent", after=own_subject))],
)
async def consents(subject: OwnSubject, views: Views) -> ConsentsPublic:
    """This citizen's consents and opt-outs, per organisation and purpose, with history."""
    return ConsentsPublic(records=await citizen_consents(views, [subject.key]))


@router.get(
    "/{subject}/consents/{change}/receipt",
    summary="The signed receipt of one change to a consent",
    response_model=ConsentReceiptPublic,
    responses=problem_responses(400, 401, 403, 404, 409, 503),
    dependencies=[Depends(read_your_writes("consent", after=own_subject))],
)
async def receipt(
    subject: OwnSubject,
    views: Views,
    log: Log,
    request: Request,
    change: Annotated[
        int,
        Path(
            ge=1,
            le=MAX_POSITION,
            description="the ledger position of the change (a consent's history gives it)",
        ),
    ],
) -> Response:
    """The signed receipt of one change (given, withdrawn, renewed, expired) to one of
    this citizen's consents: check it offline with `ledger verify receipt FILE --key
    KEY`. Another citizen's, or a position where no consent of theirs changed, is 404; a
    change not yet sealed into the log is 503 with Retry-After (it will be in a second)."""
    document = await consent_receipt(views, log, request.app.state.log_signer, subject.key, change)
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{change}.json"'},
    )
