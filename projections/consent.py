"""Consent state per subject x controller x purpose, with history; and objections.

One row per consent (ISO/IEC TS 27560 record: state, terms, expiry) and per objection
or opt-out (``controller`` ``*`` for a national opt-out that binds every controller),
plus every change in ``history``. The consent decision reads these rows.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic
from psycopg import Cursor

from ledger.domain.consent import Consent, Objection
from ledger.domain.erasure import Erasure, erased_records
from projections.view import Projection

NATIONAL = "*"  # the controller of a national opt-out: every controller

STATES: dict[type, str] = {
    Consent.Given: "given",
    Consent.Withdrawn: "withdrawn",
    Consent.Expired: "expired",
    Consent.Renewed: "renewed",
    Consent.GivenAgain: "given",
    Objection.Set: "in-force",
    Objection.Lifted: "lifted",
    Objection.SetAgain: "in-force",
}


class ConsentProjection(Projection):
    """Writes consent and objection state from the ledger's consent events."""

    name = "consent"
    topics = (*(get_topic(kind) for kind in STATES), get_topic(Erasure.Recorded))
    tables = (
        "CREATE TABLE IF NOT EXISTS {s}.consents ("
        "originator_id uuid PRIMARY KEY, subject_key text NOT NULL, controller text NOT NULL, "
        "purpose_code text NOT NULL, purpose jsonb NOT NULL, state text NOT NULL, "
        "changed_at timestamptz NOT NULL, expires_at timestamptz, terms jsonb NOT NULL, "
        "position bigint NOT NULL)",
        "CREATE UNIQUE INDEX IF NOT EXISTS consents_by_subject "
        "ON {s}.consents (subject_key, controller, purpose_code)",
        "CREATE TABLE IF NOT EXISTS {s}.objections ("
        "originator_id uuid PRIMARY KEY, subject_key text NOT NULL, controller text NOT NULL, "
        "purpose_code text NOT NULL, purpose jsonb NOT NULL, in_force boolean NOT NULL, "
        "grounds text, changed_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS objections_by_subject "
        "ON {s}.objections (subject_key, purpose_code)",
        "CREATE TABLE IF NOT EXISTS {s}.history ("
        "originator_id uuid NOT NULL, position bigint NOT NULL, state text NOT NULL, "
        "at timestamptz NOT NULL, PRIMARY KEY (originator_id, position))",
    )

    @singledispatchmethod
    def apply(self, event: Any, position: int, curs: Cursor[Any]) -> None:
        """Events of other types change nothing here."""

    @apply.register
    def _(self, event: Erasure.Recorded, position: int, curs: Cursor[Any]) -> None:
        """A consent or objection erased as a whole record is no longer known here."""
        records = erased_records(event)
        if records:
            for table in ("consents", "objections", "history"):
                curs.execute(
                    self.sql(f"DELETE FROM {{s}}.{table} WHERE originator_id = ANY(%s)"),  # noqa: S608
                    (records,),
                )

    @apply.register
    def _(self, event: Consent.Given, position: int, curs: Cursor[Any]) -> None:
        if event.subject_key is None:  # erased (a view rebuilt after an erasure)
            return
        curs.execute(
            self.sql(
                "INSERT INTO {s}.consents VALUES (%s, %s, %s, %s, %s, 'given', %s, %s, %s, %s)"
            ),
            (
                event.originator_id,
                event.subject_key,
                event.controller,
                event.purpose["code"],
                orjson.dumps(event.purpose).decode(),
                event.at,
                event.expires_at,
                orjson.dumps(event.terms).decode(),
                position,
            ),
        )
        self._history(curs, event.originator_id, position, "given", event.at)

    @apply.register
    def _(
        self,
        event: Consent.Withdrawn | Consent.Expired | Consent.Renewed | Consent.GivenAgain,
        position: int,
        curs: Cursor[Any],
    ) -> None:
        state = STATES[type(event)]
        if isinstance(event, Consent.Renewed | Consent.GivenAgain):
            curs.execute(
                self.sql(
                    "UPDATE {s}.consents SET state = %s, changed_at = %s, expires_at = %s, "
                    "terms = terms || %s::jsonb, position = %s WHERE originator_id = %s"
                ),
                (
                    state,
                    event.at,
                    event.expires_at,
                    orjson.dumps(event.terms).decode(),
                    position,
                    event.originator_id,
                ),
            )
        else:
            curs.execute(
                self.sql(
                    "UPDATE {s}.consents SET state = %s, changed_at = %s, position = %s "
                    "WHERE originator_id = %s"
                ),
                (state, event.at, position, event.originator_id),
            )
        self._history(curs, event.originator_id, position, state, event.at)

    @apply.register
    def _(self, event: Objection.Set, position: int, curs: Cursor[Any]) -> None:
        if event.subject_key is None:  # erased
            return
        curs.execute(
            self.sql("INSERT INTO {s}.objections VALUES (%s, %s, %s, %s, %s, true, %s, %s, %s)"),
            (
                event.originator_id,
                event.subject_key,
                event.controller or NATIONAL,
                event.purpose["code"],
                orjson.dumps(event.purpose).decode(),
                event.grounds,
                event.at,
                position,
            ),
        )
        self._history(curs, event.originator_id, position, "in-force", event.at)

    @apply.register
    def _(
        self, event: Objection.Lifted | Objection.SetAgain, position: int, curs: Cursor[Any]
    ) -> None:
        in_force = isinstance(event, Objection.SetAgain)
        curs.execute(
            self.sql(
                "UPDATE {s}.objections SET in_force = %s, changed_at = %s, position = %s "
                "WHERE originator_id = %s"
            ),
            (in_force, event.at, position, event.originator_id),
        )
        self._history(curs, event.originator_id, position, STATES[type(event)], event.at)

    def _history(
        self, curs: Cursor[Any], originator_id: UUID, position: int, state: str, at: datetime
    ) -> None:
        curs.execute(
            self.sql("INSERT INTO {s}.history VALUES (%s, %s, %s, %s)"),
            (originator_id, position, state, at),
        )
