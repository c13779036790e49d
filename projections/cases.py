"""The case view: every subject access request and every query about an access, with its
state, history, due date and the facts the clock needs.

One row per case in ``cases``, every step in ``history`` (who acted: the officer's
pseudonym, never their id), every redaction decision in ``redactions``, and each
organisation's nation in ``nations`` (its bank holidays set the working days).

Deadlines are computed from the calendar, never recorded as facts (a bank holiday
announced late changes deadlines already running). The view keeps the computed due date
only to sort and filter the officers' queue, with the fingerprint of the calendar it
was computed with; when the calendar changes (a new ``govuk-bank-holidays``), preparing
the view computes them again, and the API always computes what it shows from the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic
from psycopg import Connection, Cursor

from ledger.domain.dsar import AccessQuery, SubjectAccessRequest
from ledger.domain.erasure import Erasure, erased_records
from ledger.domain.registry import Organisation
from ledger.dsar.clock import Deadline, Pause, Request, deadline
from ledger.dsar.holidays import Calendar, Nation, bundled_calendar
from ledger.dsar.rules import OPEN_STATES, QUERY, REQUEST, CaseFacts, State
from projections.view import Projection
from projections.wording import UK

DEFAULT_NATION = Nation.ENGLAND_AND_WALES

STEPS: dict[type, str] = {
    SubjectAccessRequest.Received: "received",
    SubjectAccessRequest.IdentityVerified: "identity-verified",
    SubjectAccessRequest.ClarificationRequested: "clarification-requested",
    SubjectAccessRequest.ClarificationReceived: "clarification-received",
    SubjectAccessRequest.Extended: "extended",
    SubjectAccessRequest.Responded: "responded",
    SubjectAccessRequest.Refused: "refused",
    SubjectAccessRequest.Closed: "closed",
    SubjectAccessRequest.RedactionDecided: "redaction-decided",
    AccessQuery.Raised: "raised",
    AccessQuery.Answered: "answered",
}

COLUMNS = (
    "case_id, kind, organisation, reference, subject_key, received_at, channel, requester, "
    "identity_required, identity_at, pauses, extension, outcome, outcome_detail, closed, "
    "about_position, concern, nation, state, due, calendar, opened_position, changed_at"
)


def uk_day(moment: datetime) -> date:
    return moment.astimezone(UK).date()


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case as the view keeps it."""

    case_id: UUID
    kind: str
    organisation: str
    reference: str
    subject_key: str
    received_at: datetime
    channel: str | None
    requester: str | None
    identity_required: bool
    identity_at: datetime | None
    pauses: list[list[str | None]]  # [[asked, answered or None], ...], ISO days
    extension: dict[str, Any] | None
    outcome: str | None
    outcome_detail: dict[str, Any] | None
    closed: bool
    about_position: int | None
    concern: str | None
    nation: str
    state: str
    due: date | None
    calendar: str
    opened_position: int
    changed_at: datetime

    @classmethod
    def from_record(cls, record: tuple[Any, ...] | dict[str, Any]) -> CaseRow:
        if isinstance(record, dict):
            return cls(**{name: record[name] for name in cls.__dataclass_fields__})
        return cls(*record)

    @property
    def facts(self) -> CaseFacts:
        return CaseFacts(
            kind=self.kind,
            identity_required=self.identity_required,
            identity_verified=self.identity_at is not None,
            awaiting_clarification=bool(self.pauses) and self.pauses[-1][1] is None,
            extended=self.extension is not None,
            outcome=self.outcome,
            closed=self.closed,
        )

    def deadline(self, today: date, calendar: Calendar | None = None) -> Deadline | None:
        """The case's deadline as of ``today``; None while the clock has not started
        (identity asked for and not yet received), and once the case is no longer open
        (answered or closed)."""
        facts = self.facts
        if facts.state not in OPEN_STATES or facts.state is State.AWAITING_IDENTITY:
            return None
        months = int(self.extension["months"]) if self.extension else 0
        request = Request(
            received=uk_day(self.received_at),
            identity_verified=uk_day(self.identity_at) if self.identity_at else None,
            pauses=tuple(
                Pause(date.fromisoformat(asked), date.fromisoformat(answered) if answered else None)
                for asked, answered in self.pauses
                if asked
            ),
            extended=months > 0,
            extension_months=months or 2,
        )
        try:
            nation = Nation(self.nation)
        except ValueError:
            nation = DEFAULT_NATION
        return deadline(request, nation, calendar or bundled_calendar(), today=today)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


FIELDS = tuple(f.name for f in fields(CaseRow))
# What later events of a case change (the rest is fixed when it is opened).
CHANGING = (
    "identity_at",
    "pauses",
    "extension",
    "outcome",
    "outcome_detail",
    "closed",
    "state",
    "due",
    "calendar",
    "changed_at",
)
_JSONB = frozenset({"pauses", "extension", "outcome_detail"})


def _stored(case: CaseRow, calendar: Calendar) -> tuple[Any, ...]:
    """The case's row as the table keeps it, in column order: its state and the due date
    to sort by derived from its facts (with the calendar's fingerprint), jsonb members as
    JSON text."""
    derived = replace(
        case,
        state=str(case.facts.state),
        due=_sort_due(case, calendar),
        calendar=calendar.fingerprint,
    )
    return tuple(
        _json(value) if name in _JSONB and value is not None else value
        for name, value in ((name, getattr(derived, name)) for name in FIELDS)
    )


class CasesProjection(Projection):
    """Writes the case view from request and query events."""

    name = "cases"
    topics = (
        get_topic(Organisation.Registered),
        get_topic(Erasure.Recorded),
        *(get_topic(kind) for kind in STEPS),
    )
    tables = (
        "CREATE TABLE IF NOT EXISTS {s}.cases ("
        "case_id uuid PRIMARY KEY, kind text NOT NULL, organisation text NOT NULL, "
        "reference text NOT NULL, subject_key text NOT NULL, "
        "received_at timestamptz NOT NULL, channel text, requester text, "
        "identity_required boolean NOT NULL, identity_at timestamptz, "
        "pauses jsonb NOT NULL, extension jsonb, outcome text, outcome_detail jsonb, "
        "closed boolean NOT NULL, about_position bigint, concern text, "
        "nation text NOT NULL, state text NOT NULL, due date, calendar text NOT NULL, "
        "opened_position bigint NOT NULL, changed_at timestamptz NOT NULL)",
        # The officers' queue: an organisation's cases by state and due date.
        "CREATE UNIQUE INDEX IF NOT EXISTS cases_queue "
        "ON {s}.cases (organisation, (COALESCE(due, 'infinity'::date)), kind, reference)",
        "CREATE UNIQUE INDEX IF NOT EXISTS cases_by_reference "
        "ON {s}.cases (organisation, kind, reference)",
        "CREATE INDEX IF NOT EXISTS cases_by_subject ON {s}.cases (subject_key, received_at)",
        "CREATE TABLE IF NOT EXISTS {s}.history ("
        "case_id uuid NOT NULL, position bigint NOT NULL, step text NOT NULL, "
        "at timestamptz NOT NULL, officer_key text, detail jsonb NOT NULL, "
        "PRIMARY KEY (case_id, position))",
        "CREATE TABLE IF NOT EXISTS {s}.redactions ("
        "case_id uuid NOT NULL, position bigint NOT NULL, item_position bigint NOT NULL, "
        "field text NOT NULL, disclose boolean NOT NULL, reason text NOT NULL, "
        "officer_key text, at timestamptz NOT NULL, PRIMARY KEY (case_id, position))",
        "CREATE TABLE IF NOT EXISTS {s}.nations ("
        "organisation text PRIMARY KEY, nation text NOT NULL)",
    )

    def create(self, conn: Connection[Any]) -> None:
        super().create(conn)
        self.recompute(conn)

    def outdated(self, conn: Connection[Any]) -> str | None:
        row = conn.execute(
            self.sql("SELECT count(*) FROM {s}.cases WHERE calendar <> %s"),
            (bundled_calendar().fingerprint,),
        ).fetchone()
        return f"{row[0]} due dates were computed with another calendar" if row and row[0] else None

    def recompute(self, conn: Connection[Any]) -> int:
        """Compute again the due dates computed with another calendar (a bank holiday
        announced late moves deadlines already running); how many moved."""
        calendar = bundled_calendar()
        with conn.transaction():
            curs = conn.cursor()
            rows = curs.execute(
                self.sql(f"SELECT {COLUMNS} FROM {{s}}.cases WHERE calendar <> %s FOR UPDATE"),  # noqa: S608
                (calendar.fingerprint,),
            ).fetchall()
            for record in rows:
                case = CaseRow.from_record(record)
                self._update(curs, case, {}, case.changed_at)
        return len(rows)

    @singledispatchmethod
    def apply(self, event: Any, position: int, curs: Cursor[Any]) -> None:
        """Events of other types change nothing here."""

    @apply.register
    def _(self, event: Organisation.Registered, position: int, curs: Cursor[Any]) -> None:
        nation = getattr(event, "nation", None) or DEFAULT_NATION
        curs.execute(
            self.sql(
                "INSERT INTO {s}.nations VALUES (%s, %s) "
                "ON CONFLICT (organisation) DO UPDATE SET nation = EXCLUDED.nation"
            ),
            (event.code, str(nation)),
        )

    @apply.register
    def _(self, event: SubjectAccessRequest.Received, position: int, curs: Cursor[Any]) -> None:
        self._open(
            curs,
            event,
            position,
            kind=REQUEST,
            channel=event.channel,
            requester=event.requester,
            identity_required=event.identity_required,
        )
        self._history(curs, event, position, {"channel": event.channel})

    @apply.register
    def _(self, event: AccessQuery.Raised, position: int, curs: Cursor[Any]) -> None:
        self._open(
            curs,
            event,
            position,
            kind=QUERY,
            about_position=event.about_position,
            concern=event.concern,
        )
        self._history(curs, event, position, {"about_position": event.about_position})

    @apply.register
    def _(
        self,
        event: SubjectAccessRequest.IdentityVerified
        | SubjectAccessRequest.ClarificationRequested
        | SubjectAccessRequest.ClarificationReceived
        | SubjectAccessRequest.Extended
        | SubjectAccessRequest.Responded
        | SubjectAccessRequest.Refused
        | SubjectAccessRequest.Closed
        | AccessQuery.Answered,
        position: int,
        curs: Cursor[Any],
    ) -> None:
        case = self._case(curs, event.originator_id)
        if case is None:  # its opening is not in the log
            return
        changes: dict[str, Any] = {}
        detail: dict[str, Any] = {}
        day = uk_day(event.at).isoformat()
        if isinstance(event, SubjectAccessRequest.IdentityVerified):
            changes["identity_at"] = event.at
            detail = {"method": event.method}
        elif isinstance(event, SubjectAccessRequest.ClarificationRequested):
            changes["pauses"] = [*case.pauses, [day, None]]
        elif isinstance(event, SubjectAccessRequest.ClarificationReceived):
            pauses = [list(p) for p in case.pauses]
            if pauses and pauses[-1][1] is None:
                pauses[-1][1] = day
            changes["pauses"] = pauses
        elif isinstance(event, SubjectAccessRequest.Extended):
            changes["extension"] = {"months": event.months, "reason": event.reason}
            detail = {"months": event.months, "reason": event.reason}
        elif isinstance(event, SubjectAccessRequest.Responded):
            changes["outcome"], changes["outcome_detail"] = "responded", event.response
            detail = dict(event.response)
        elif isinstance(event, SubjectAccessRequest.Refused):
            changes["outcome"], changes["outcome_detail"] = "refused", event.refusal
            detail = dict(event.refusal)
        elif isinstance(event, AccessQuery.Answered):
            changes["outcome"] = "answered"
            changes["outcome_detail"] = {"explanation": event.explanation}
        elif isinstance(event, SubjectAccessRequest.Closed):
            changes["closed"] = True
        self._update(curs, case, changes, event.at)
        self._history(curs, event, position, detail)

    @apply.register
    def _(
        self, event: SubjectAccessRequest.RedactionDecided, position: int, curs: Cursor[Any]
    ) -> None:
        curs.execute(
            self.sql(
                "INSERT INTO {s}.redactions VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING"
            ),
            (
                event.originator_id,
                position,
                event.position,
                event.field,
                event.disclose,
                event.reason,
                event.officer_key,
                event.at,
            ),
        )
        detail = {"item_position": event.position, "field": event.field}
        self._history(curs, event, position, {**detail, "disclose": event.disclose})

    @apply.register
    def _(self, event: Erasure.Recorded, position: int, curs: Cursor[Any]) -> None:
        """A request or query erased as a whole record is no longer a case here."""
        records = erased_records(event)
        if records:
            for table in ("cases", "history", "redactions"):
                curs.execute(
                    self.sql(f"DELETE FROM {{s}}.{table} WHERE case_id = ANY(%s)"),  # noqa: S608
                    (records,),
                )

    # -- helpers --

    def _nation(self, curs: Cursor[Any], organisation: str) -> str:
        row = curs.execute(
            self.sql("SELECT nation FROM {s}.nations WHERE organisation = %s"), (organisation,)
        ).fetchone()
        return str(row[0]) if row else str(DEFAULT_NATION)

    def _open(
        self,
        curs: Cursor[Any],
        event: SubjectAccessRequest.Received | AccessQuery.Raised,
        position: int,
        *,
        kind: str,
        channel: str | None = None,
        requester: str | None = None,
        identity_required: bool = False,
        about_position: int | None = None,
        concern: str | None = None,
    ) -> None:
        if event.subject_key is None:  # erased (a view rebuilt after an erasure)
            return
        calendar = bundled_calendar()
        case = CaseRow(
            case_id=event.originator_id,
            kind=kind,
            organisation=event.organisation,
            reference=event.reference,
            subject_key=event.subject_key,
            received_at=event.at,
            channel=channel,
            requester=requester,
            identity_required=identity_required,
            identity_at=None,
            pauses=[],
            extension=None,
            outcome=None,
            outcome_detail=None,
            closed=False,
            about_position=about_position,
            concern=concern,
            nation=self._nation(curs, event.organisation),
            state="",
            due=None,
            calendar=calendar.fingerprint,
            opened_position=position,
            changed_at=event.at,
        )
        curs.execute(
            self.sql(
                f"INSERT INTO {{s}}.cases ({COLUMNS}) VALUES ("  # noqa: S608
                + ", ".join(["%s"] * len(FIELDS))
                + ") ON CONFLICT DO NOTHING"
            ),
            _stored(case, calendar),
        )

    def _case(self, curs: Cursor[Any], case_id: UUID) -> CaseRow | None:
        row = curs.execute(
            self.sql(f"SELECT {COLUMNS} FROM {{s}}.cases WHERE case_id = %s"),  # noqa: S608
            (case_id,),
        ).fetchone()
        return CaseRow.from_record(row) if row else None

    def _update(
        self, curs: Cursor[Any], case: CaseRow, changes: dict[str, Any], at: datetime
    ) -> None:
        updated = replace(case, **changes, changed_at=max(at, case.changed_at))
        stored = dict(zip(FIELDS, _stored(updated, bundled_calendar()), strict=True))
        curs.execute(
            self.sql(
                f"UPDATE {{s}}.cases SET ({', '.join(CHANGING)}) = "  # noqa: S608
                f"({', '.join(['%s'] * len(CHANGING))}) WHERE case_id = %s"
            ),
            (*(stored[name] for name in CHANGING), case.case_id),
        )

    def _history(
        self, curs: Cursor[Any], event: Any, position: int, detail: dict[str, Any]
    ) -> None:
        curs.execute(
            self.sql(
                "INSERT INTO {s}.history VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ),
            (
                event.originator_id,
                position,
                STEPS[type(event)],
                event.at,
                getattr(event, "officer_key", None),
                _json(detail),
            ),
        )


def _sort_due(case: CaseRow, calendar: Calendar) -> date | None:
    """The due date the queue sorts by: for a paused case, as if the answer came the day
    it was asked for (the earliest it can be); None before the clock starts, and for a
    case no longer open."""
    pauses = case.pauses
    if pauses and pauses[-1][1] is None:
        today = date.fromisoformat(str(pauses[-1][0]))
    else:
        today = uk_day(case.changed_at)
    found = case.deadline(today, calendar)
    return found.due if found else None


# -- reading (the API's queries) --

QUEUE_ORDER = "COALESCE(due, 'infinity'::date), kind, reference"


@dataclass(frozen=True, slots=True)
class QueueFilter:
    states: tuple[str, ...] = ()
    kind: str | None = None
    due_before: date | None = None
    overdue_on: date | None = None  # the open cases whose due date is before this day


async def queue(
    reader: Any,
    organisation: str,
    where: QueueFilter,
    *,
    limit: int,
    after: tuple[date, str, str] | None = None,
) -> list[CaseRow]:
    """An organisation's cases by due date (those without one last), then kind and
    reference; ``after`` is the previous page's last (due or 'infinity', kind,
    reference). One index range scan (``cases_queue``)."""
    clauses = ["organisation = %(org)s"]
    params: dict[str, Any] = {"org": organisation, "limit": limit}
    if where.states:
        clauses.append("state = ANY(%(states)s)")
        params["states"] = list(where.states)
    if where.kind:
        clauses.append("kind = %(kind)s")
        params["kind"] = where.kind
    if where.due_before:
        clauses.append("COALESCE(due, 'infinity'::date) < %(due_before)s")
        params["due_before"] = where.due_before
    if where.overdue_on:
        clauses.append("COALESCE(due, 'infinity'::date) < %(today)s AND state = ANY(%(running)s)")
        params["today"] = where.overdue_on
        params["running"] = [str(State.IN_PROGRESS), str(State.OPEN)]
    if after is not None:
        clauses.append(
            "(COALESCE(due, 'infinity'::date), kind, reference) > "
            "(%(a_due)s, %(a_kind)s, %(a_ref)s)"
        )
        params.update(a_due=after[0], a_kind=after[1], a_ref=after[2])
    query = (
        f"SELECT {COLUMNS} FROM cases.cases WHERE {' AND '.join(clauses)} "  # noqa: S608
        f"ORDER BY {QUEUE_ORDER} LIMIT %(limit)s"
    )
    return [CaseRow.from_record(row) for row in await reader.rows(query, params)]


async def case_by_reference(
    reader: Any, organisation: str, kind: str, reference: str
) -> CaseRow | None:
    rows = await reader.rows(
        f"SELECT {COLUMNS} FROM cases.cases "  # noqa: S608
        "WHERE organisation = %s AND kind = %s AND reference = %s",
        (organisation, kind, reference),
    )
    return CaseRow.from_record(rows[0]) if rows else None


async def cases_of_subjects(reader: Any, subject_keys: list[str]) -> list[CaseRow]:
    rows = await reader.rows(
        f"SELECT {COLUMNS} FROM cases.cases WHERE subject_key = ANY(%s) "  # noqa: S608
        "ORDER BY received_at DESC, reference",
        (subject_keys,),
    )
    return [CaseRow.from_record(row) for row in rows]


async def history(reader: Any, case_id: UUID) -> list[dict[str, Any]]:
    return list(
        await reader.rows(
            "SELECT position, step, at, officer_key, detail FROM cases.history "
            "WHERE case_id = %s ORDER BY position",
            (case_id,),
        )
    )


async def redactions(reader: Any, case_id: UUID) -> list[dict[str, Any]]:
    return list(
        await reader.rows(
            "SELECT position, item_position, field, disclose, reason, officer_key, at "
            "FROM cases.redactions WHERE case_id = %s ORDER BY position",
            (case_id,),
        )
    )
