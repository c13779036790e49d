"""A citizen's timeline: who accessed or received their data, their consents, opt-outs
and requests, when, why and under which basis, in plain English."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool

from api.deps import (
    MAX_POSITION,
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
from ledger.subjects import SCHEMES
from ledger.transparency.checkpoint import b64
from ledger.transparency.leaves import SealedLeaf
from projections import wording
from projections.reading import TimelineEntry, TimelineFilter
from projections.timeline import ACCESS, KINDS, SHARE

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])

# Documented as the kinds; checked in the route, which answers `invalid-kind`.
Kind = Annotated[str, WithJsonSchema({"type": "string", "enum": list(KINDS)})]


def _cursor(entry: TimelineEntry) -> str:
    return f"{entry.occurred_at.isoformat()}~{entry.position}"


def _parse_cursor(text: str) -> tuple[datetime, int]:
    when, _, position = text.rpartition("~")
    try:
        moment, number = datetime.fromisoformat(when), int(position)
    except ValueError:
        moment, number = None, -1
    if moment is None or moment.tzinfo is None or not 0 <= number <= MAX_POSITION:
        raise Problem(400, "invalid-cursor", "The page cursor is not valid")
    return moment, number


def _in_log(entry: TimelineEntry, leaf: SealedLeaf | None) -> dict[str, Any]:
    # Where the entry sits in the verifiable log, so anyone can check it offline with
    # `ledger verify --inclusion`; null until the sealer has sealed it (about a second).
    return {
        "leaf_index": leaf.leaf_index if leaf else None,
        "leaf_hash": b64(leaf.leaf_hash) if leaf else None,
        "inclusion_proof": f"/v1/log/proofs/inclusion?position={entry.position}" if leaf else None,
    }


def _access(entry: TimelineEntry, names: dict[str, str]) -> dict[str, Any]:
    detail = entry.detail
    return {
        "summary": wording.describe_access(names[entry.organisation], entry.occurred_at, detail),
        "who": detail["role"],
        "what": detail["record"],
        "data": wording.describe_categories(detail["data_categories"]),
        "why": detail["purpose"]["text"],
        "basis": wording.describe_basis(detail["lawful_basis"]),
        "system": detail["system"],
        "action": detail["action"],
        "emergency_access": detail["break_glass"],
    }


def _share(entry: TimelineEntry, names: dict[str, str]) -> dict[str, Any]:
    detail = entry.detail
    return {
        "summary": wording.describe_share(names, entry.occurred_at, detail),
        "to": {"code": detail["recipient"], "name": names[detail["recipient"]]},
        "data": wording.describe_categories(detail["data_categories"]),
        "why": detail["purpose"]["text"],
        "basis": wording.describe_basis(detail["lawful_basis"]),
        "law": (detail.get("legal_gateway") or {}).get("text"),
        "kept_for": detail["retention"]["text"],
        "sent_abroad": detail.get("international_transfer") is not None,
    }


def _public(entry: TimelineEntry, names: dict[str, str]) -> dict[str, Any]:
    name = names[entry.organisation]
    if entry.kind == ACCESS:
        specific = _access(entry, names)
    elif entry.kind == SHARE:
        specific = _share(entry, names)
    else:
        specific = {
            "summary": wording.describe_change(entry.kind, name, entry.occurred_at, entry.detail)
        }
    return {
        "position": entry.position,
        "kind": entry.kind,
        "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(),
        "organisation": {"code": entry.organisation, "name": name},
        **specific,
    }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=wording.UK).astimezone(UTC)


def _start(moment: date | datetime | None) -> datetime | None:
    """From the instant, or from the start of the day (UK time)."""
    if moment is None or isinstance(moment, datetime):
        return moment
    return _day_start(moment)


def _end(moment: date | datetime | None) -> datetime | None:
    """Up to the instant, or to the end of the day (UK time); the last day has no end."""
    if isinstance(moment, datetime):
        return moment
    if moment is None or moment == date.max:
        return None
    return _day_start(moment + timedelta(days=1)) - timedelta(microseconds=1)


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
    where = TimelineFilter(organisation, tuple(kind or ()), _start(since), _end(until))
    cursor = _parse_cursor(after) if after else None
    entries = await views.timeline([subject.key], limit=limit, after=cursor, where=where)
    codes = {e.organisation for e in entries} | {
        e.detail["recipient"] for e in entries if e.kind == SHARE
    }
    names = await views.organisation_names(sorted(codes))
    names = {code: names.get(code, code) for code in codes}
    sealed = await run_in_threadpool(log.sealed, [e.position for e in entries])
    scheme = subject.id.scheme
    body = {
        "subject": {"scheme": scheme, "scheme_name": SCHEMES[scheme]},
        "entries": [_public(e, names) | _in_log(e, sealed.get(e.position)) for e in entries],
        "next": _cursor(entries[-1]) if len(entries) == limit else None,
    }
    return JSONBytes(orjson.dumps(body))
