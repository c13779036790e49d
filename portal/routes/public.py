"""The public pages, for anyone, signed in or not: how data is shared (the transparency
statistics, small counts withheld, as a chart, a table and a CSV file), the register of
data sharing agreements, and how to check the ledger. None of them holds personal data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Log, SettingsDep, Views
from portal import statistics
from portal.pages import render
from projections import oversight, wording

router = APIRouter()

ROLES = {
    "controller": "controller",
    "joint-controller": "joint controller",
    "processor": "processor (acts for the other parties)",
}


async def _statistics(views: Views, threshold: int) -> list[statistics.Row]:
    """The cells the API serves auditors, withheld as it withholds them, in words."""
    cells = await oversight.statistics(views, threshold)
    names = await views.organisations()
    return statistics.rows(cells, names, _gateways(await views.agreements()))


def _gateways(agreements: list[dict[str, Any]]) -> dict[str, str]:
    """Legal gateways in words, as the register of agreements names them."""
    named = (row["terms"].get("legal_gateway") for row in agreements)
    return {gateway["code"]: gateway["text"] for gateway in named if gateway}


@router.get("/how-data-is-shared")
async def how_data_is_shared(request: Request, views: Views, settings: SettingsDep) -> Response:
    table = await _statistics(views, settings.stats_suppress_below)
    largest = max((row.events or 0 for row in table), default=0)
    return render(
        request,
        "how_data_is_shared.html",
        rows=table,
        bars=[statistics.bar(row.events, largest) for row in table],
        headings=statistics.HEADINGS,
        threshold=settings.stats_suppress_below,
        figure=statistics.figure,
        withheld=statistics.WITHHELD,
    )


@router.get("/how-data-is-shared.csv")
async def how_data_is_shared_csv(views: Views, settings: SettingsDep) -> Response:
    table = await _statistics(views, settings.stats_suppress_below)
    return Response(
        statistics.csv_text(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="how-data-is-shared.csv"'},
    )


@router.get("/agreements")
async def agreements(request: Request, views: Views) -> Response:
    rows = await views.agreements()
    names = await views.organisations()
    today = datetime.now(wording.UK).date()
    return render(
        request, "agreements.html", agreements=[_agreement(row, names, today) for row in rows]
    )


def _agreement(row: dict[str, Any], names: dict[str, str], today: date) -> dict[str, Any]:
    """An agreement of the register, in plain English."""
    terms = row["terms"]
    gateway = terms.get("legal_gateway")
    return {
        "reference": row["reference"],
        "title": terms["title"],
        "parties": [
            f"{wording.sentence_start(names.get(p['organisation'], p['organisation']))} "
            f"({ROLES.get(p['role'], p['role'])})"
            for p in terms["parties"]
        ],
        "purposes": [wording.sentence_start(p["text"]) for p in terms["purposes"]],
        "gateway": gateway["text"] if gateway else "None given",
        "basis": wording.sentence_start(wording.describe_basis(terms["lawful_basis"])),
        "data": [wording.sentence_start(c["text"]) for c in terms["data_categories"]],
        "special": any(c.get("special_category") for c in terms["data_categories"]),
        "period": _period(terms),
        "in_force": _in_force(row, terms, today),
        "kept_for": wording.sentence_start(terms["retention"]["text"]),
        "rights_contact": terms["rights_contact"],
        "review_on": wording.day_of(date.fromisoformat(terms["review_on"])),
    }


def _period(terms: dict[str, Any]) -> str:
    starts = wording.day_of(date.fromisoformat(terms["starts_on"]))
    if terms["ends_on"] is None:
        return f"From {starts}, with no end date"
    return f"From {starts} to {wording.day_of(date.fromisoformat(terms['ends_on']))}"


def _in_force(row: dict[str, Any], terms: dict[str, Any], today: date) -> str:
    if row["ended_at"] is not None:
        return f"No. A party ended it on {wording.day(row['ended_at'])}"
    if date.fromisoformat(terms["starts_on"]) > today:
        return f"Not yet. It starts on {wording.day_of(date.fromisoformat(terms['starts_on']))}"
    if terms["ends_on"] is not None and date.fromisoformat(terms["ends_on"]) < today:
        return f"No. It ended on {wording.day_of(date.fromisoformat(terms['ends_on']))}"
    return "Yes"


@router.get("/how-to-check")
async def how_to_check(request: Request, log: Log) -> Response:
    return render(
        request, "how_to_check.html", verifier_key=log.key.verifier_key, origin=log.key.name
    )
