"""A citizen's timeline entries in plain English, as the API and the portal both show
them: the sentence and the facts of each entry, where it sits in the verifiable log,
the keyset cursor of a page and the UK days a date range covers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.deps import MAX_POSITION
from api.problems import Problem
from ledger.transparency.checkpoint import b64
from ledger.transparency.leaves import SealedLeaf
from ledger.transparency.reader import LogReader
from projections import wording
from projections.reading import TimelineEntry, ViewReader
from projections.timeline import ACCESS, ERASED, SHARE


def cursor_of(entry: TimelineEntry) -> str:
    """The keyset cursor after ``entry`` (the ``next`` of its page)."""
    return f"{entry.occurred_at.isoformat()}~{entry.position}"


def parse_cursor(text: str) -> tuple[datetime, int]:
    """(occurred_at, position) of a cursor; 400 ``invalid-cursor`` if it is not one."""
    when, _, position = text.rpartition("~")
    try:
        moment, number = datetime.fromisoformat(when), int(position)
    except ValueError:
        moment, number = None, -1
    if moment is None or moment.tzinfo is None or not 0 <= number <= MAX_POSITION:
        raise Problem(400, "invalid-cursor", "The page cursor is not valid")
    return moment, number


def in_log(entry: TimelineEntry, leaf: SealedLeaf | None) -> dict[str, Any]:
    """Where the entry sits in the verifiable log, so anyone can check it offline with
    `ledger verify --inclusion`; null until the sealer has sealed it (about a second)."""
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


def public_entry(entry: TimelineEntry, names: dict[str, str]) -> dict[str, Any]:
    """The entry as a citizen reads it: one sentence (``summary``) and its facts."""
    name = names.get(entry.organisation, entry.organisation)
    if entry.kind == ERASED:
        specific = {"summary": wording.describe_erased(entry.occurred_at, entry.detail)}
    elif entry.kind == ACCESS:
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


async def names_of(views: ViewReader, entries: Sequence[TimelineEntry]) -> dict[str, str]:
    """The name of every organisation the entries mention (its code if it has none)."""
    codes = {e.organisation for e in entries} | {
        e.detail["recipient"] for e in entries if e.kind == SHARE
    }
    names = await views.organisation_names(sorted(codes))
    return {code: names.get(code, code) for code in codes}


async def entries_in_log(
    views: ViewReader, log: LogReader, entries: Sequence[TimelineEntry]
) -> list[dict[str, Any]]:
    """The entries as the API shows them: :func:`public_entry` and :func:`in_log`."""
    names = await names_of(views, entries)
    sealed = await run_in_threadpool(log.sealed, [e.position for e in entries])
    return [public_entry(e, names) | in_log(e, sealed.get(e.position)) for e in entries]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=wording.UK).astimezone(UTC)


def range_start(moment: date | datetime | None) -> datetime | None:
    """From the instant, or from the start of the day (UK time)."""
    if moment is None or isinstance(moment, datetime):
        return moment
    return _day_start(moment)


def range_end(moment: date | datetime | None) -> datetime | None:
    """Up to the instant, or to the end of the day (UK time); the last day has no end."""
    if isinstance(moment, datetime):
        return moment
    if moment is None or moment == date.max:
        return None
    return _day_start(moment + timedelta(days=1)) - timedelta(microseconds=1)
