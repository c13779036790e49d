"""For auditors and oversight boards: compliance findings and transparency statistics."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.auth.policy import Overseer
from api.deps import Views, read_your_writes
from projections import oversight
from projections.policy import RULES

router = APIRouter(prefix="/v1", tags=["oversight"])


@router.get("/findings", dependencies=[Depends(read_your_writes("findings"))])
async def findings(
    _: Overseer,
    views: Views,
    rule: Annotated[str | None, Query(description=f"one of {', '.join(RULES)}")] = None,
    organisation: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, description="ledger position (paging)")] = None,
) -> dict[str, Any]:
    """Compliance findings, newest first, each linked to the event that raised it."""
    rows = await oversight.findings(
        views, rule=rule, organisation=organisation, status=status, limit=limit, before=before
    )
    return {
        "findings": [
            {
                **row,
                "occurred_at": row["occurred_at"].isoformat(),
                "event": f"/v1/log/proofs/inclusion?position={row['position']}",
            }
            for row in rows
        ],
        "next": rows[-1]["position"] if len(rows) == limit else None,
    }


@router.get("/statistics", dependencies=[Depends(read_your_writes("statistics"))])
async def statistics(
    request: Request,
    _: Overseer,
    views: Views,
    since: Annotated[date | None, Query(description="first month (any day in it)")] = None,
    until: Annotated[date | None, Query(description="last month (any day in it)")] = None,
    organisation: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Accesses and shares per month, organisation, gateway and purpose; small counts hidden."""
    threshold = request.app.state.settings.stats_suppress_below
    cells = await oversight.statistics(
        views,
        threshold,
        since=since.replace(day=1) if since else None,
        until=until.replace(day=1) if until else None,
        organisation=organisation,
    )
    return {"suppressed_below": threshold, "cells": cells}
