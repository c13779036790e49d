"""The consent decision for services: may we share this, now? A hot path: async, one
indexed query, orjson."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError

from api.auth.policy import Service, require_organisation
from api.deps import parse_subject
from api.problems import Problem
from projections.decisions import ShareQuestion, decide, decision_facts

router = APIRouter(prefix="/v1/decisions", tags=["services"])

CODE = "^[a-z0-9][a-z0-9._-]{0,63}$"
ORGANISATION = "^[A-Z0-9][A-Z0-9-]{1,31}$"


class ShareDecisionIn(BaseModel):
    """The share a service is about to make."""

    sender: str = Field(pattern=ORGANISATION, description="organisation sharing (yours)")
    recipient: str = Field(pattern=ORGANISATION, description="organisation receiving")
    subject: str = Field(max_length=250, description="scheme:value, e.g. nhs-number:9434765919")
    purpose: str = Field(pattern=CODE, description="purpose code")
    categories: list[str] = Field(min_length=1, max_length=100, description="data category codes")


@router.post(
    "/share",
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ShareDecisionIn.model_json_schema()}},
        }
    },
)
async def share(request: Request, principal: Service) -> Response:
    """Allowed or denied, with the basis (agreement, consent or gateway) or the reason."""
    # Validated in one pass from the bytes (pydantic-core), not FastAPI's body machinery:
    # this route's budget is a millisecond.
    try:
        question = ShareDecisionIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise Problem(422, "invalid-question", "The question is not valid", _first(exc)) from None
    require_organisation(principal, question.sender)
    state = request.app.state
    subject_key = state.keyring.pseudonymiser.subject_key(parse_subject(question.subject))
    asked = ShareQuestion(
        question.sender, question.recipient, subject_key, question.purpose, question.categories
    )
    now = datetime.now(UTC)
    decision = decide(asked, await decision_facts(state.pool, asked), now)
    body = {
        "allowed": decision.allowed,
        "basis": decision.basis,
        "reason": decision.reason,
        "explanation": decision.explanation,
        "agreement": decision.agreement,
        "legal_gateway": decision.legal_gateway,
        "decided_at": now.isoformat(),
    }
    return Response(orjson.dumps(body), media_type="application/json")


def _first(error: ValidationError) -> str:
    # The field and what is wrong with it; never the value (it may be an identifier).
    first = error.errors(include_input=False)[0]
    return f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}"
