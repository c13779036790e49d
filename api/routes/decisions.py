"""The consent decision for services: may we share this, now? A hot path: async, one
indexed query, orjson."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError

from api.auth.policy import Service, require_organisation
from api.deps import Database, Pseudonyms, parse_subject
from api.encoding import JSONBytes
from api.problems import Problem, problem_responses
from api.schemas.decisions import ShareDecisionIn, ShareDecisionPublic
from projections.decisions import ShareQuestion, decide, decision_facts

router = APIRouter(prefix="/v1/decisions", tags=["services"])


@router.post(
    "/share",
    response_model=ShareDecisionPublic,
    response_class=JSONBytes,
    responses=problem_responses(400, 401, 403, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ShareDecisionIn.model_json_schema()}},
        }
    },
)
async def share(
    request: Request, principal: Service, pseudonyms: Pseudonyms, database: Database
) -> JSONBytes:
    """Allowed or denied, with the basis (agreement, consent or gateway) or the reason."""
    # Validated in one pass from the bytes (pydantic-core), not FastAPI's body machinery:
    # this route's budget is a millisecond.
    try:
        question = ShareDecisionIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise Problem(422, "invalid-question", "The question is not valid", _first(exc)) from None
    require_organisation(principal, question.sender)
    subject_key = pseudonyms.subject_key(parse_subject(question.subject))
    asked = ShareQuestion(
        question.sender, question.recipient, subject_key, question.purpose, question.categories
    )
    now = datetime.now(UTC)
    decision = decide(asked, await decision_facts(database, asked), now)
    body = {
        "allowed": decision.allowed,
        "basis": decision.basis,
        "reason": decision.reason,
        "explanation": decision.explanation,
        "agreement": decision.agreement,
        "legal_gateway": decision.legal_gateway,
        "decided_at": now.isoformat(),
    }
    return JSONBytes(orjson.dumps(body))


def _first(error: ValidationError) -> str:
    # The field and what is wrong with it; never the value (it may be an identifier).
    first = error.errors(include_input=False)[0]
    return f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}"
