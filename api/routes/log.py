"""The verifiable log: signed tree heads, checkpoints, inclusion and consistency proofs
(hashes only, for every role), and an event's disclosable form for whom may see it."""

from __future__ import annotations

import json
from base64 import b64encode
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse

from api.auth.policy import Verifier, forbidden
from api.auth.tokens import Principal
from api.problems import Problem
from ledger.transparency.reader import DisclosedEvent, LogLookupError, LogReader

router = APIRouter(prefix="/v1/log", tags=["verifiable log"])

Size = Annotated[int, Query(ge=1, description="size of a tree the log signed")]


def _log(request: Request) -> LogReader:
    reader: LogReader = request.app.state.log
    return reader


def _problem(exc: LogLookupError) -> Problem:
    status = 400 if exc.code == "invalid-sizes" else 404
    return Problem(status, exc.code, exc.title, exc.detail)


@router.get("/key")
def key(request: Request) -> dict[str, str]:
    """The log's public key: all an auditor needs to check heads and proofs offline.

    Open to all: a verifier's trust starts from this key, so it must be publishable."""
    log_key = _log(request).key
    return {
        "origin": log_key.name,
        "key_id": log_key.key_id.hex(),
        "verifier_key": log_key.verifier_key,
        "algorithm": "Ed25519 (C2SP signed-note type 0x01)",
    }


@router.get("/tree-heads")
def tree_heads(
    request: Request,
    _: Verifier,
    after: Annotated[int, Query(ge=0, description="list sizes above this one")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
) -> dict[str, Any]:
    """Every tree size the log signed, smallest first, a page at a time: a verifier
    walks them (``next``: the ``after`` of the next page, null at the end) instead of
    probing sizes one by one."""
    reader = _log(request)
    page = reader.heads_after(after, limit + 1)
    shown = page[:limit]
    return {
        "tree_heads": [signed.to_json(reader.key) for signed in shown],
        "next": shown[-1].head.tree_size if len(page) > limit else None,
    }


@router.get("/tree-heads/latest")
def latest_tree_head(request: Request, _: Verifier) -> dict[str, Any]:
    """The latest signed tree head."""
    reader = _log(request)
    try:
        return reader.latest_head().to_json(reader.key)
    except LogLookupError as exc:
        raise _problem(exc) from None


@router.get("/tree-heads/{tree_size}")
def tree_head(tree_size: int, request: Request, _: Verifier) -> dict[str, Any]:
    """The tree head the log signed at this size (every one is kept)."""
    reader = _log(request)
    try:
        return reader.head_at(tree_size).to_json(reader.key)
    except LogLookupError as exc:
        raise _problem(exc) from None


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(
    request: Request, _: Verifier, tree_size: Annotated[int | None, Query(ge=0)] = None
) -> PlainTextResponse:
    """The latest (or a past) signed tree head as a C2SP checkpoint (signed note)."""
    reader = _log(request)
    try:
        head = reader.latest_head() if tree_size is None else reader.head_at(tree_size)
    except LogLookupError as exc:
        raise _problem(exc) from None
    return PlainTextResponse(head.checkpoint(reader.key), media_type="text/plain; charset=utf-8")


@router.get("/proofs/inclusion")
def inclusion_proof(
    request: Request,
    _: Verifier,
    position: Annotated[int | None, Query(ge=1, description="ledger position")] = None,
    source: Annotated[str | None, Query(max_length=500, description="event source")] = None,
    id: Annotated[str | None, Query(max_length=500, description="event id")] = None,
    tree_size: Annotated[int | None, Query(ge=1, description="default: latest")] = None,
) -> dict[str, Any]:
    """Proof that an event (by ledger position, or by source and id) is in a signed tree."""
    reader = _log(request)
    try:
        if position is not None and source is None and id is None:
            return reader.inclusion(position, tree_size)
        if position is None and source is not None and id is not None:
            return reader.inclusion_by_event(source, id, tree_size)
    except LogLookupError as exc:
        raise _problem(exc) from None
    raise Problem(400, "invalid-query", "Name one event", "give either position, or source and id")


@router.get("/proofs/consistency")
def consistency_proof(
    request: Request, _: Verifier, first: Size, second: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    """Proof that the signed tree of size ``second`` (default: latest) extends ``first``."""
    try:
        return _log(request).consistency(first, second)
    except LogLookupError as exc:
        raise _problem(exc) from None


@router.get(
    "/events/{position}",
    responses={
        400: {"description": "An auditor or admin must give a reason"},
        403: {"description": "This token may not see that event"},
        404: {"description": "No event at that position"},
    },
)
def event_content(
    request: Request,
    principal: Verifier,
    position: Annotated[int, Path(ge=1, description="ledger position")],
    reason: Annotated[
        str | None,
        Query(min_length=3, max_length=300, description="why (auditors and admins: kept)"),
    ] = None,
) -> dict[str, Any]:
    """An event as the log shows it (its disclosable form: personal fields are salted
    commitments) and the leaf input it is checked against, for whom may see it: the
    citizen it concerns (with the openings of their own commitments), the services and
    officers of the organisation that submitted it, and an auditor or admin who gives a
    reason, which is kept."""
    reader = _log(request)
    try:
        found = reader.event(position, openings_for=principal.subject_keys)
    except LogLookupError as exc:
        raise _problem(exc) from None
    if principal.roles & {"auditor", "admin"}:
        if reason is None:
            raise Problem(
                400, "reason-required", "Say why you need to see this event", "give ?reason="
            )
        role = "auditor" if "auditor" in principal.roles else "admin"
        reader.record_disclosure(position, principal.subject, role, reason)
    elif not _may_see(request, principal, found):
        raise forbidden()
    return {
        "position": found.position,
        "leaf_index": found.leaf_index,
        "leaf_input": None if found.leaf_input is None else b64encode(found.leaf_input).decode(),
        "disclosable": b64encode(found.content).decode(),
        "event": json.loads(found.content),
        "openings": [o.to_json() for o in found.openings if principal.subject_keys],
    }


def _may_see(request: Request, principal: Principal, found: DisclosedEvent) -> bool:
    if principal.subject_keys & found.subject_keys:
        return True  # the citizen it concerns
    if principal.organisation is None or found.source is None:
        return False
    ledger = request.app.state.write_path.ledger
    return bool(ledger.organisation_of(found.source) == principal.organisation)
