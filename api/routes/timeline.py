"""A citizen's timeline: who accessed or received their data, their consents, opt-outs
and requests, when, why and under which basis, in plain English."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from api.auth.policy import Citizen, require_own_subject
from api.deps import Views, parse_subject, read_your_writes
from api.problems import Problem
from ledger.subjects import SCHEMES
from ledger.transparency.checkpoint import b64
from ledger.transparency.leaves import SealedLeaf
from projections import wording
from projections.reading import TimelineEntry, TimelineFilter
from projections.timeline import ACCESS, KINDS, SHARE

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])


def _cursor(entry: TimelineEntry) -> str:
    return f"{entry.occurred_at.isoformat()}~{entry.position}"


def _parse_cursor(text: str) -> tuple[datetime, int]:
    try:
        when, _, position = text.rpartition("~")
        return datetime.fromisoformat(when), int(position)
    except ValueError:
        raise Problem(400, "invalid-cursor", "The page cursor is not valid") from None


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


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=wording.UK).astimezone(UTC) if day else None


@router.get("/{subject}/timeline", dependencies=[Depends(read_your_writes("timeline"))])
async def timeline(
    subject: str,
    request: Request,
    principal: Citizen,
    views: Views,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[str | None, Query(max_length=80)] = None,
    organisation: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[list[str] | None, Query(description=f"any of {', '.join(KINDS)}")] = None,
    since: Annotated[date | None, Query(description="first day (UK time)")] = None,
    until: Annotated[date | None, Query(description="last day (UK time)")] = None,
) -> dict[str, Any]:
    """What happened to this citizen's data, newest first, in plain English."""
    subject_id = parse_subject(subject)
    state = request.app.state
    key = state.keyring.pseudonymiser.subject_key(subject_id)
    require_own_subject(principal, key)
    unknown = set(kind or ()) - set(KINDS)
    if unknown:
        raise Problem(400, "invalid-kind", "Unknown kind of entry", f"kinds are {', '.join(KINDS)}")
    until_end = _day_start(until + timedelta(days=1)) if until else None
    where = TimelineFilter(
        organisation,
        tuple(kind or ()),
        _day_start(since),
        until_end - timedelta(microseconds=1) if until_end else None,
    )
    cursor = _parse_cursor(after) if after else None
    entries = await views.timeline([key], limit=limit, after=cursor, where=where)
    codes = {e.organisation for e in entries} | {
        e.detail["recipient"] for e in entries if e.kind == SHARE
    }
    names = await views.organisation_names(sorted(codes))
    names = {code: names.get(code, code) for code in codes}
    sealed = await run_in_threadpool(state.log.sealed, [e.position for e in entries])
    return {
        "subject": {"scheme": subject_id.scheme, "scheme_name": SCHEMES[subject_id.scheme]},
        "entries": [_public(e, names) | _in_log(e, sealed.get(e.position)) for e in entries],
        "next": _cursor(entries[-1]) if len(entries) == limit else None,
    }
