"""Reading what auditors see: compliance findings and transparency statistics.

Neither holds personal data. Statistics cells that could single out a small group are
withheld (``null``, ``suppressed: true``): see :mod:`projections.suppression`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.policy import RULES
from projections.reading import ViewReader
from projections.suppression import Figures, withheld


async def findings(
    reader: ViewReader,
    *,
    rule: str | None = None,
    organisation: str | None = None,
    status: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Findings, newest position first; ``before`` pages on by position."""
    rows = await reader.rows(
        "SELECT position, rule, occurred_at, organisation, counterpart, subjects, "
        "detail::jsonb AS detail, status, resolved_by FROM findings.findings "
        "WHERE (%(rule)s::text IS NULL OR rule = %(rule)s) "
        "AND (%(org)s::text IS NULL OR organisation = %(org)s OR counterpart = %(org)s) "
        "AND (%(status)s::text IS NULL OR status = %(status)s) "
        "AND (%(before)s::bigint IS NULL OR position < %(before)s) "
        "ORDER BY position DESC, rule LIMIT %(limit)s",
        {"rule": rule, "org": organisation, "status": status, "before": before, "limit": limit},
    )
    for row in rows:
        row["title"] = RULES.get(row["rule"], row["rule"])
    return rows


async def statistics(
    reader: ViewReader,
    threshold: int,
    *,
    since: date | None = None,
    until: date | None = None,
    organisation: str | None = None,
) -> list[dict[str, Any]]:
    """Monthly counts of accesses and shares, and of the people they concerned; cells
    that could single out a small group are withheld.

    The filters take whole organisations' months, the groups the rule protects, so a
    filtered query withholds the same cells as an unfiltered one."""
    rows = await reader.rows(
        "SELECT month, kind, organisation, gateway, purpose_code, purpose, events, people "
        "FROM statistics.cells "
        "WHERE (%(since)s::date IS NULL OR month >= %(since)s) "
        "AND (%(until)s::date IS NULL OR month <= %(until)s) "
        "AND (%(org)s::text IS NULL OR organisation = %(org)s) "
        "ORDER BY month DESC, kind, organisation, gateway, purpose_code",
        {"since": since, "until": until, "org": organisation},
    )
    hidden = withheld(
        [
            Figures((row["month"], row["kind"], row["organisation"]), row["events"], row["people"])
            for row in rows
        ],
        threshold,
    )
    return [_cell(row, position in hidden) for position, row in enumerate(rows)]


def _cell(row: dict[str, Any], hidden: bool) -> dict[str, Any]:
    return {
        "month": row["month"].strftime("%Y-%m"),
        "kind": row["kind"],
        "organisation": row["organisation"],
        "gateway": row["gateway"] or None,
        "purpose": {"code": row["purpose_code"], "text": row["purpose"]},
        "events": None if hidden else row["events"],
        "people": None if hidden else row["people"],
        "suppressed": hidden,
    }
