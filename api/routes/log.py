"""The verifiable log: signed tree heads, checkpoints, inclusion and consistency proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from api.auth.policy import Verifier
from api.problems import Problem
from ledger.transparency.reader import LogLookupError, LogReader

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
