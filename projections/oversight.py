"""Reading what auditors see: compliance findings and transparency statistics.

Neither holds personal data. Statistics counts below the suppression threshold are
withheld (``null``, ``suppressed: true``) so that small groups cannot be singled out.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.policy import RULES
from projections.reading import ViewReader


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


def suppress(count: int, threshold: int) -> int | None:
    """The count, or None when it is small enough to single people out."""
    return count if count >= threshold else None


async def statistics(
    reader: ViewReader,
    threshold: int,
    *,
    since: date | None = None,
    until: date | None = None,
    organisation: str | None = None,
) -> list[dict[str, Any]]:
    """Monthly counts of accesses and shares, small counts suppressed."""
    rows = await reader.rows(
        "SELECT month, kind, organisation, gateway, purpose_code, purpose, events, subjects "
        "FROM statistics.counts "
        "WHERE (%(since)s::date IS NULL OR month >= %(since)s) "
        "AND (%(until)s::date IS NULL OR month <= %(until)s) "
        "AND (%(org)s::text IS NULL OR organisation = %(org)s) "
        "ORDER BY month DESC, kind, organisation, gateway, purpose_code",
        {"since": since, "until": until, "org": organisation},
    )
    cells = []
    for row in rows:
        events, subjects = suppress(row["events"], threshold), suppress(row["subjects"], threshold)
        cells.append(
            {
                "month": row["month"].strftime("%Y-%m"),
                "kind": row["kind"],
                "organisation": row["organisation"],
                "gateway": row["gateway"] or None,
                "purpose": {"code": row["purpose_code"], "text": row["purpose"]},
                "events": events,
                "people": subjects,
                "suppressed": events is None or subjects is None,
            }
        )
    return cells
