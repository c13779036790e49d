"""A citizen's timeline: who accessed or received their data, their consents, opt-outs
and requests, when, why and under which basis, in plain English."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query
from pydantic import WithJsonSchema

from api.deps import (
    Log,
    Moment,
    Organisation,
    OwnSubject,
    Views,
    own_subject,
    read_your_writes,
)
from api.encoding import JSONBytes
from api.problems import Problem, problem_responses
from api.schemas.timeline import TimelinePublic
from api.timeline_entries import cursor_of, entries_in_log, parse_cursor, range_end, range_start
from ledger.subjects import SCHEMES
from projections.reading import TimelineFilter
from projections.timeline import KINDS

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])

# Documented as the kinds; checked in the route, which answers `invalid-kind`.
Kind = Annotated[str, WithJsonSchema({"type": "string", "enum": list(KINDS)})]


@router.get(
    "/{subject}/timeline",
    response_model=TimelinePublic,
    response_class=JSONBytes,
    responses=problem_responses(400, 401, 403, 404, 503),
    dependencies=[Depends(read_your_writes("timeline", after=own_subject))],
)
async def timeline(
    subject: OwnSubject,
    views: Views,
    log: Log,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[str | None, Query(max_length=80, description="the `next` of a page")] = None,
    organisation: Organisation = None,
    kind: Annotated[list[Kind] | None, Query(description="kinds of entry")] = None,
    since: Annotated[Moment | None, Query(description="from this day (UK time) or instant")] = None,
    until: Annotated[Moment | None, Query(description="to this day (UK time) or instant")] = None,
) -> JSONBytes:
    """What happened to this citizen's data, newest first, in plain English."""
    unknown = set(kind or ()) - set(KINDS)
    if unknown:
        raise Problem(400, "invalid-kind", "Unknown kind of entry", f"kinds are {', '.join(KINDS)}")
    where = TimelineFilter(organisation, tuple(kind or ()), range_start(since), range_end(until))
    cursor = parse_cursor(after) if after else None
    entries = await views.timeline(subject.timeline_keys, limit=limit, after=cursor, where=where)
    scheme = subject.id.scheme
    body = {
        "subject": {"scheme": scheme, "scheme_name": SCHEMES[scheme]},
        "entries": await entries_in_log(views, log, entries),
        "next": cursor_of(entries[-1]) if len(entries) == limit else None,
    }
    return JSONBytes(orjson.dumps(body))
