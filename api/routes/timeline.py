"""A citizen's timeline: who accessed their data, when, why and under which basis."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.problems import Problem
from ledger.subjects import SCHEMES, InvalidIdentifier, SubjectId
from ledger.transparency.checkpoint import b64
from ledger.transparency.store import SealedLeaf
from projections import wording
from projections.timeline import TimelineEntry

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


def _public(entry: TimelineEntry) -> dict[str, Any]:
    detail = entry.detail
    return {
        "position": entry.position,
        "kind": entry.kind,
        "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(),
        "summary": wording.describe_access(entry.organisation_name, entry.occurred_at, detail),
        "organisation": {"code": entry.organisation, "name": entry.organisation_name},
        "who": detail["role"],
        "what": detail["record"],
        "data": wording.describe_categories(detail["data_categories"]),
        "why": detail["purpose"]["text"],
        "basis": wording.describe_basis(detail["lawful_basis"]),
        "system": detail["system"],
        "action": detail["action"],
        "emergency_access": detail["break_glass"],
    }


@router.get("/{subject}/timeline")
def timeline(
    subject: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[str | None, Query(max_length=80)] = None,
) -> dict[str, Any]:
    """Who accessed this citizen's data, newest first, in plain English."""
    try:
        subject_id = SubjectId.from_text(subject)
    except InvalidIdentifier as exc:
        raise Problem(
            400, "invalid-subject", "The subject identifier is not valid", str(exc)
        ) from None
    state = request.app.state
    key = state.keyring.pseudonymiser.subject_key(subject_id)
    cursor = _parse_cursor(after) if after else None
    entries = state.timeline.entries(key, limit=limit, after=cursor)
    sealed = state.log.sealed([e.position for e in entries])
    return {
        "subject": {"scheme": subject_id.scheme, "scheme_name": SCHEMES[subject_id.scheme]},
        "entries": [_public(e) | _in_log(e, sealed.get(e.position)) for e in entries],
        "next": _cursor(entries[-1]) if len(entries) == limit else None,
    }
