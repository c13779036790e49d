"""Shared dependencies of the routes: the view reader, and read-your-writes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from api.problems import Problem
from ledger.subjects import InvalidIdentifier, SubjectId
from projections.reading import ViewReader


def view_reader(request: Request) -> ViewReader:
    reader: ViewReader = request.app.state.views
    return reader


Views = Annotated[ViewReader, Depends(view_reader)]


def parse_subject(text: str) -> SubjectId:
    """A typed identifier from ``scheme:value``; 400 (naming no value) if it is not one."""
    try:
        return SubjectId.from_text(text)
    except InvalidIdentifier as exc:
        raise Problem(
            400, "invalid-subject", "The subject identifier is not valid", str(exc)
        ) from None


def read_your_writes(*views: str) -> Callable[..., Awaitable[None]]:
    """A dependency: wait, within the configured bound, until ``views`` have applied the
    ledger position the caller names (``?position=`` or the ``Ledger-Position`` header,
    as returned by ``POST /v1/events``); 503 with Retry-After if they have not."""

    async def wait(
        request: Request,
        reader: Views,
        position: Annotated[
            int | None,
            Query(ge=1, description="Wait until the view includes this ledger position"),
        ] = None,
        ledger_position: Annotated[int | None, Header(ge=1)] = None,
    ) -> None:
        wanted = position or ledger_position
        if not wanted:
            return
        bound = request.app.state.settings.read_wait_seconds
        if not await reader.reached(wanted, views, bound):
            raise Problem(
                503,
                "view-behind",
                "The view has not caught up with that position yet",
                f"waited {bound:g} s; try again shortly",
                headers={"Retry-After": "1"},
            )

    return wait
