"""Who has used your data: the timeline (filters, keyset pages), one entry with what the
ledger knows of it, its proof to download, and "I don't recognise this"."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from api.citizen_cases import record_query
from api.deps import MAX_POSITION, CitizenSubject, Log, Views
from api.problems import Problem
from api.timeline_entries import (
    cursor_of,
    entries_in_log,
    names_of,
    parse_cursor,
    public_entry,
    range_end,
    range_start,
)
from ledger.transparency.reader import LogLookupError
from portal.deps import PostedForm, SignedIn
from portal.pages import ENVIRONMENT, PortalError, not_found, render
from projections import wording
from projections.reading import TimelineEntry, TimelineFilter
from projections.timeline import ACCESS, CONSENT, OBJECTION, QUERY, REQUEST, SHARE

router = APIRouter()

PAGE_SIZE = 20
KIND_LABELS = {
    ACCESS: "Looked at your data",
    SHARE: "Shared your data",
    CONSENT: "Your consents",
    OBJECTION: "Your opt-outs",
    REQUEST: "Your requests for your data",
    QUERY: "Your questions about the use of your data",
}
CONCERNS = {
    "dont-recognise-organisation": "I do not recognise the organisation",
    "dont-recognise-reason": "I do not recognise the reason it gives",
    "other": "Something else",
}


def _day(params: Any, prefix: str, label: str, errors: dict[str, str]) -> date | None:
    parts = [params.get(f"{prefix}-{p}", "").strip() for p in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        day, month, year = (int(p) for p in parts)
        if year < 1000:
            raise ValueError(year)
        return date(year, month, day)
    except ValueError:
        errors[prefix] = f"{label} must be a real date, for example 27 3 2026"
        return None


def _filters(params: Any, organisations: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    organisation = params.get("organisation") or None
    if organisation not in organisations:
        organisation = None
    kinds = [k for k in params.getlist("kind") if k in KIND_LABELS]
    since = _day(params, "from", "The date from", errors)
    until = _day(params, "to", "The date to", errors)
    if since and until and since > until:
        errors["to"] = "The date to must be the same as or after the date from"
    chosen = {"organisation": organisation, "kinds": kinds, "since": since, "until": until}
    return chosen, errors


_DATE_PARTS = tuple(f"{p}-{q}" for p in ("from", "to") for q in ("day", "month", "year"))


def _filters_form(
    params: Any, organisations: dict[str, str], chosen: dict[str, Any], errors: dict[str, str]
) -> Markup:
    """The filter form, as it is for these organisations, choices and dates."""
    return _form(
        tuple(organisations.items()),
        chosen["organisation"],
        tuple(chosen["kinds"]),
        tuple(params.get(name, "") for name in _DATE_PARTS),
        tuple(errors.items()),
        any(chosen.values()),
    )


@lru_cache(maxsize=256)
def _form(
    organisations: tuple[tuple[str, str], ...],
    organisation: str | None,
    kinds: tuple[str, ...],
    dates: tuple[str, ...],
    errors: tuple[tuple[str, str], ...],
    filtered: bool,
) -> Markup:
    """The filter form rendered once for each set of values (most pages show it
    unfiltered, the same for everyone): it costs more to render than the page's entries."""
    html = ENVIRONMENT.get_template("timeline_filters.html").render(
        organisations=dict(organisations),
        kind_labels=KIND_LABELS,
        chosen={"organisation": organisation, "kinds": list(kinds)},
        query=dict(zip(_DATE_PARTS, dates, strict=True)),
        errors=dict(errors),
        filtered=filtered,
    )
    return Markup(html)  # noqa: S704 (rendered by the autoescaping environment)


def _query_of(params: Any, after: str | None) -> str:
    kept = [(k, v) for k, v in params.multi_items() if k != "after"]
    if after:
        kept.append(("after", after))
    return urlencode(kept)


@router.get("/your-data")
async def your_data(request: Request, subject: SignedIn, views: Views, log: Log) -> Response:
    params = request.query_params
    organisations = await views.organisations()
    chosen, errors = _filters(params, organisations)
    cursor = None
    if params.get("after"):
        try:
            cursor = parse_cursor(params["after"])
        except Problem:
            raise not_found() from None
    where = TimelineFilter(
        chosen["organisation"],
        tuple(chosen["kinds"]),
        range_start(chosen["since"]) if not errors else None,
        range_end(chosen["until"]) if not errors else None,
    )
    # One more than a page: an "Older entries" link only when there are older entries
    # (a history of exactly 40 entries has two pages, not a third that is empty).
    entries = await views.timeline(
        subject.timeline_keys, limit=PAGE_SIZE + 1, after=cursor, where=where
    )
    entries, beyond = entries[:PAGE_SIZE], len(entries) > PAGE_SIZE
    names = await names_of(views, entries)
    shown = [public_entry(e, names) for e in entries]
    more = _query_of(params, cursor_of(entries[-1])) if beyond else None
    return render(
        request,
        "your_data.html",
        entries=shown,
        filters=_filters_form(params, organisations, chosen, errors),
        errors=errors,
        older=f"/your-data?{more}" if more else None,
        newest=f"/your-data?{_query_of(params, None)}" if cursor else None,
        filtered=any(chosen.values()),
    )


async def _own_entry(views: Views, subject: CitizenSubject, position: str) -> TimelineEntry:
    """The entry at ``position`` if it is the citizen's; the "not found" page otherwise
    (the same page whether it is someone else's or nobody's)."""
    if not position.isdigit() or not 1 <= int(position) <= MAX_POSITION:
        raise not_found()
    entry = await views.entry([subject.key], int(position))
    if entry is None:
        raise not_found()
    return entry


@router.get("/your-data/{position}")
async def an_entry(
    request: Request, position: str, subject: SignedIn, views: Views, log: Log
) -> Response:
    entry = await _own_entry(views, subject, position)
    (shown,) = await entries_in_log(views, log, [entry])
    return render(
        request,
        "entry.html",
        entry=shown,
        agreement=entry.detail.get("agreement"),
        kind_label=KIND_LABELS.get(entry.kind, ""),
        can_query=entry.kind in (ACCESS, SHARE),
        what_they_did=_what_they_did(entry),
    )


def _what_they_did(entry: TimelineEntry) -> str:
    if entry.kind != ACCESS:
        return ""
    verb = wording.ACTIONS.get(entry.detail["action"], entry.detail["action"])
    return wording.sentence_start(f"{verb} your {entry.detail['record']}")


@router.get("/your-data/{position}/proof")
async def entry_proof(position: str, subject: SignedIn, views: Views, log: Log) -> Response:
    """The inclusion proof of the entry, as the API serves it: `ledger verify --inclusion`."""
    entry = await _own_entry(views, subject, position)
    try:
        proof = await run_in_threadpool(log.inclusion, entry.position, None)
    except LogLookupError:
        raise PortalError(
            404,
            "This entry cannot be checked yet",
            "The ledger seals new entries into its log about once a second. Try again in a minute.",
        ) from None
    return Response(
        orjson.dumps(proof, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="entry-{entry.position}-proof.json"'
        },
    )


@router.get("/your-data/{position}/query")
async def query_form(request: Request, position: str, subject: SignedIn, views: Views) -> Response:
    entry = await _own_entry(views, subject, position)
    if entry.kind not in (ACCESS, SHARE):
        raise not_found()
    names = await names_of(views, [entry])
    return render(
        request,
        "query.html",
        entry=public_entry(entry, names),
        concerns=CONCERNS,
        error=None,
    )


@router.post("/your-data/{position}/query")
async def raise_query(
    request: Request, position: str, subject: SignedIn, views: Views, form: PostedForm
) -> Response:
    entry = await _own_entry(views, subject, position)
    if entry.kind not in (ACCESS, SHARE):
        raise not_found()
    concern = form.get("concern", "")
    if concern not in CONCERNS:
        names = await names_of(views, [entry])
        return render(
            request,
            "query.html",
            status=400,
            entry=public_entry(entry, names),
            concerns=CONCERNS,
            error="Select what you do not recognise",
        )
    try:
        reference, at = await record_query(
            request, subject, entry.organisation, entry.position, concern
        )
    except Problem as problem:
        raise PortalError(
            problem.status, "Sorry, we could not send your question", problem.title
        ) from None
    await views.reached(at, ("cases",), request.app.state.settings.read_wait_seconds)
    return RedirectResponse(f"/requests/{entry.organisation}/{reference}", status_code=303)
