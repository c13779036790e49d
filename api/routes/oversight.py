"""For auditors and oversight boards: compliance findings and transparency statistics."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.auth.policy import Overseer, overseer
from api.deps import (
    CODE,
    MAX_POSITION,
    Moment,
    Organisation,
    SettingsDep,
    Views,
    read_your_writes,
    uk_day,
)
from api.problems import problem_responses
from api.schemas.oversight import FindingPublic, FindingsPublic, StatisticsPublic
from projections import oversight
from projections.policy import RULES

router = APIRouter(prefix="/v1", tags=["oversight"])

ERRORS = problem_responses(400, 401, 403, 503)


@router.get(
    "/findings",
    response_model=FindingsPublic,
    responses=ERRORS,
    dependencies=[Depends(read_your_writes("findings", after=overseer))],
)
async def findings(
    _: Overseer,
    views: Views,
    rule: Annotated[str | None, Query(pattern=CODE, description=", ".join(RULES))] = None,
    organisation: Organisation = None,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="ledger position (paging)")
    ] = None,
) -> FindingsPublic:
    """Compliance findings, newest first, each linked to the event that raised it."""
    rows = await oversight.findings(
        views,
        rule=rule,
        organisation=organisation,
        status=status,
        limit=limit,
        before=before,
    )
    return FindingsPublic(
        findings=[
            FindingPublic(**row, event=f"/v1/log/proofs/inclusion?position={row['position']}")
            for row in rows
        ],
        next=rows[-1]["position"] if len(rows) == limit else None,
    )


@router.get(
    "/statistics",
    response_model=StatisticsPublic,
    responses=ERRORS,
    dependencies=[Depends(read_your_writes("statistics", after=overseer))],
)
async def statistics(
    _: Overseer,
    views: Views,
    settings: SettingsDep,
    since: Annotated[Moment | None, Query(description="first month (a day or time in it)")] = None,
    until: Annotated[Moment | None, Query(description="last month (a day or time in it)")] = None,
    organisation: Organisation = None,
) -> StatisticsPublic:
    """Accesses and shares per month, organisation, gateway and purpose; small counts hidden."""
    threshold = settings.stats_suppress_below
    cells = await oversight.statistics(
        views,
        threshold,
        since=uk_day(since).replace(day=1) if since else None,
        until=uk_day(until).replace(day=1) if until else None,
        organisation=organisation,
    )
    return StatisticsPublic.model_validate({"suppressed_below": threshold, "cells": cells})
