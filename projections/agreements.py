"""The register of data sharing agreements (ICO code; DEA 2017 register).

``agreements`` holds each agreement's current terms; ``versions`` every registration,
amendment and end with the terms in force from then, so a share is judged against the
agreement in force at the time of the share (:func:`terms_at`).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import singledispatchmethod
from typing import Any

import orjson
from eventsourcing.utils import get_topic
from psycopg import Cursor

from ledger.domain.agreement import DataSharingAgreement
from projections.view import Projection


class AgreementsProjection(Projection):
    """Writes the register from the ledger's agreement events."""

    name = "agreements"
    topics = (
        get_topic(DataSharingAgreement.Registered),
        get_topic(DataSharingAgreement.Amended),
        get_topic(DataSharingAgreement.Ended),
    )
    tables = (
        "CREATE TABLE IF NOT EXISTS {s}.agreements ("
        "reference text PRIMARY KEY, originator_id uuid UNIQUE NOT NULL, "
        "parties text[] NOT NULL, terms jsonb NOT NULL, registered_at timestamptz NOT NULL, "
        "changed_at timestamptz NOT NULL, ended_at timestamptz, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS agreements_by_party ON {s}.agreements USING gin (parties)",
        "CREATE TABLE IF NOT EXISTS {s}.versions ("
        "reference text NOT NULL, position bigint NOT NULL, change text NOT NULL, "
        "at timestamptz NOT NULL, terms jsonb NOT NULL, reason text, "
        "PRIMARY KEY (reference, position))",
    )

    @singledispatchmethod
    def apply(self, event: Any, position: int, curs: Cursor[Any]) -> None:
        """Events of other types change nothing here."""

    @apply.register
    def _(self, event: DataSharingAgreement.Registered, position: int, curs: Cursor[Any]) -> None:
        terms = orjson.dumps(event.terms).decode()
        curs.execute(
            self.sql("INSERT INTO {s}.agreements VALUES (%s, %s, %s, %s, %s, %s, NULL, %s)"),
            (
                event.reference,
                event.originator_id,
                [p["organisation"] for p in event.terms["parties"]],
                terms,
                event.at,
                event.at,
                position,
            ),
        )
        curs.execute(
            self.sql("INSERT INTO {s}.versions VALUES (%s, %s, 'registered', %s, %s, NULL)"),
            (event.reference, position, event.at, terms),
        )

    @apply.register
    def _(
        self,
        event: DataSharingAgreement.Amended | DataSharingAgreement.Ended,
        position: int,
        curs: Cursor[Any],
    ) -> None:
        amended = isinstance(event, DataSharingAgreement.Amended)
        changes = orjson.dumps(event.terms if amended else {}).decode()  # type: ignore[union-attr]
        row = curs.execute(
            self.sql(
                "UPDATE {s}.agreements SET terms = terms || %s::jsonb, changed_at = %s, "
                "ended_at = CASE WHEN %s THEN ended_at ELSE %s END, position = %s, "
                "parties = ARRAY(SELECT jsonb_array_elements((terms || %s::jsonb) -> 'parties') "
                "->> 'organisation') "
                "WHERE originator_id = %s RETURNING reference, terms"
            ),
            (changes, event.at, amended, event.at, position, changes, event.originator_id),
        ).fetchone()
        if row is None:  # its registration is not in the log
            return
        curs.execute(
            self.sql("INSERT INTO {s}.versions VALUES (%s, %s, %s, %s, %s, %s)"),
            (
                row[0],
                position,
                "amended" if amended else "ended",
                event.at,
                orjson.dumps(row[1]).decode(),
                event.reason,
            ),
        )


def in_force(terms: dict[str, Any], ended: bool, on: date) -> bool:
    """Whether an agreement with these terms is in force on a day."""
    if ended:
        return False
    starts = date.fromisoformat(terms["starts_on"])
    ends = terms.get("ends_on")
    return starts <= on and (ends is None or on <= date.fromisoformat(ends))


def terms_at(
    curs: Cursor[Any], projection: Projection, reference: str, at: datetime
) -> tuple[dict[str, Any], bool] | None:
    """(terms, ended) of an agreement as they stood at ``at``; None if not registered then."""
    row = curs.execute(
        projection.sql(
            "SELECT terms, change = 'ended' FROM {s}.versions "
            "WHERE reference = %s AND at <= %s ORDER BY at DESC, position DESC LIMIT 1"
        ),
        (reference, at),
    ).fetchone()
    return (row[0], bool(row[1])) if row else None
