"""The verifiable log: signed tree heads, checkpoints, inclusion and consistency proofs
(hashes only, for every role), and an event's disclosable form for whom may see it."""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from api.auth.policy import Verifier, forbidden
from api.auth.tokens import Principal
from api.deps import MAX_POSITION, Log, OrganisationOf
from api.problems import Problem, problem_responses
from api.schemas.log import (
    ConsistencyProofPublic,
    EventContentPublic,
    InclusionProofPublic,
    LogKeyPublic,
    SignedTreeHeadPublic,
    TreeHeadsPublic,
)
from ledger.transparency.reader import DisclosedEvent, LogLookupError

router = APIRouter(prefix="/v1/log", tags=["verifiable log"])

Size = Annotated[int, Query(ge=1, le=MAX_POSITION, description="size of a tree the log signed")]
LaterSize = Annotated[
    int | None, Query(ge=1, le=MAX_POSITION, description="size of a signed tree (default: latest)")
]
# As CloudEvents attributes are in the catalogue: printable ASCII, no spaces.
SOURCE = r"^[\x21-\x7e]{1,256}$"
EVENT_ID = r"^[\x21-\x7e]{1,128}$"
ERRORS = problem_responses(400, 401, 403, 404, 503)


def _problem(exc: LogLookupError) -> Problem:
    status = 400 if exc.code == "invalid-sizes" else 404
    return Problem(status, exc.code, exc.title, exc.detail)


@router.get("/key", response_model=LogKeyPublic)
def key(log: Log) -> LogKeyPublic:
    """The log's public key: all an auditor needs to check heads and proofs offline.

    Open to all: a verifier's trust starts from this key, so it must be publishable."""
    return LogKeyPublic(
        origin=log.key.name,
        key_id=log.key.key_id.hex(),
        verifier_key=log.key.verifier_key,
        algorithm="Ed25519 (C2SP signed-note type 0x01)",
    )


@router.get("/tree-heads", response_model=TreeHeadsPublic, responses=ERRORS)
def tree_heads(
    _: Verifier,
    log: Log,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="list sizes above this one")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
) -> TreeHeadsPublic:
    """Every tree size the log signed, smallest first, a page at a time: a verifier
    walks them (``next``: the ``after`` of the next page, null at the end) instead of
    probing sizes one by one."""
    page = log.heads_after(after, limit + 1)
    shown = page[:limit]
    return TreeHeadsPublic.model_validate(
        {
            "tree_heads": [signed.to_json(log.key) for signed in shown],
            "next": shown[-1].head.tree_size if len(page) > limit else None,
        }
    )


@router.get("/tree-heads/latest", response_model=SignedTreeHeadPublic, responses=ERRORS)
def latest_tree_head(_: Verifier, log: Log) -> dict[str, Any]:
    """The latest signed tree head."""
    try:
        return log.latest_head().to_json(log.key)
    except LogLookupError as exc:
        raise _problem(exc) from None


@router.get("/tree-heads/{tree_size}", response_model=SignedTreeHeadPublic, responses=ERRORS)
def tree_head(
    tree_size: Annotated[int, Path(ge=0, le=MAX_POSITION)], _: Verifier, log: Log
) -> dict[str, Any]:
    """The tree head the log signed at this size (every one is kept)."""
    try:
        return log.head_at(tree_size).to_json(log.key)
    except LogLookupError as exc:
        raise _problem(exc) from None


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **ERRORS,
    },
)
def checkpoint(
    _: Verifier,
    log: Log,
    tree_size: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
) -> PlainTextResponse:
    """The latest (or a past) signed tree head as a C2SP checkpoint (signed note)."""
    try:
        head = log.latest_head() if tree_size is None else log.head_at(tree_size)
    except LogLookupError as exc:
        raise _problem(exc) from None
    return PlainTextResponse(head.checkpoint(log.key), media_type="text/plain; charset=utf-8")


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProofPublic,
    response_model_exclude_unset=True,  # no leaf_input where the bundle has none
    responses=ERRORS,
)
def inclusion_proof(
    _: Verifier,
    log: Log,
    position: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="ledger position")
    ] = None,
    source: Annotated[str | None, Query(pattern=SOURCE, description="event source")] = None,
    id: Annotated[str | None, Query(pattern=EVENT_ID, description="event id")] = None,
    tree_size: LaterSize = None,
) -> dict[str, Any]:
    """Proof that an event (by ledger position, or by source and id) is in a signed tree."""
    try:
        if position is not None and source is None and id is None:
            return log.inclusion(position, tree_size)
        if position is None and source is not None and id is not None:
            return log.inclusion_by_event(source, id, tree_size)
    except LogLookupError as exc:
        raise _problem(exc) from None
    raise Problem(400, "invalid-query", "Name one event", "give either position, or source and id")


@router.get("/proofs/consistency", response_model=ConsistencyProofPublic, responses=ERRORS)
def consistency_proof(
    _: Verifier, log: Log, first: Size, second: LaterSize = None
) -> dict[str, Any]:
    """Proof that the signed tree of size ``second`` (default: latest) extends ``first``."""
    try:
        return log.consistency(first, second)
    except LogLookupError as exc:
        raise _problem(exc) from None


# A reason is kept as written: printable text, no control characters.
REASON = r"^[^\x00-\x1f\x7f]{3,300}$"


@router.get("/events/{position}", response_model=EventContentPublic, responses=ERRORS)
def event_content(
    principal: Verifier,
    log: Log,
    organisation_of: OrganisationOf,
    position: Annotated[int, Path(ge=1, le=MAX_POSITION, description="ledger position")],
    reason: Annotated[
        str | None,
        Query(pattern=REASON, description="why (auditors and admins must say: it is kept)"),
    ] = None,
) -> EventContentPublic:
    """An event as the log shows it (its disclosable form: personal fields are salted
    commitments) and the leaf input it is checked against, for whom may see it: the
    citizen it concerns (with the openings of their own commitments), the services and
    officers of the organisation that submitted it, and an auditor or admin who gives a
    reason, which is kept."""
    try:
        found = log.event(position, openings_for=principal.subject_keys)
    except LogLookupError as exc:
        raise _problem(exc) from None
    if principal.roles & {"auditor", "admin"}:
        if reason is None:
            raise Problem(
                400, "reason-required", "Say why you need to see this event", "give ?reason="
            )
        role = "auditor" if "auditor" in principal.roles else "admin"
        log.record_disclosure(position, principal.subject, role, reason)
    elif not _may_see(organisation_of, principal, found):
        raise forbidden()
    leaf_input = None if found.leaf_input is None else b64encode(found.leaf_input).decode()
    return EventContentPublic.model_validate(
        {
            "position": found.position,
            "leaf_index": found.leaf_index,
            "leaf_input": leaf_input,
            "disclosable": b64encode(found.content).decode(),
            "event": json.loads(found.content),
            "openings": [o.to_json() for o in found.openings if principal.subject_keys],
        }
    )


def _may_see(
    organisation_of: Callable[[str], str | None], principal: Principal, found: DisclosedEvent
) -> bool:
    if principal.subject_keys & found.subject_keys:
        return True  # the citizen it concerns
    if principal.organisation is None or found.source is None:
        return False
    return organisation_of(found.source) == principal.organisation
