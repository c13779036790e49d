"""The per-citizen timeline: who accessed my data, when, why, under which basis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from ledger.domain.access import DataAccess
from ledger.domain.registry import Organisation
from ledger.persistence import SerialisedDDL


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a citizen's data, as stored in the view."""

    position: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    organisation: str
    organisation_name: str
    detail: dict[str, Any]


class TimelineView(SerialisedDDL, PostgresTrackingRecorder):
    """PostgreSQL tables of the timeline, plus eventsourcing's tracking table."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.entries_table = Identifier("timeline_entries")
        self.organisations_table = Identifier("timeline_organisations")
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "subject_key text NOT NULL, position bigint NOT NULL, kind text NOT NULL, "
                "occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL, "
                "organisation text NOT NULL, detail jsonb NOT NULL, "
                "PRIMARY KEY (subject_key, position))"
            ).format(schema, self.entries_table),
            SQL(
                "CREATE INDEX IF NOT EXISTS timeline_entries_by_time "
                "ON {0}.{1} (subject_key, occurred_at DESC, position DESC)"
            ).format(schema, self.entries_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (code text PRIMARY KEY, name text NOT NULL)"
            ).format(schema, self.organisations_table),
        ]
        self._insert_entry = SQL(
            "INSERT INTO {0}.{1} (subject_key, position, kind, occurred_at, recorded_at, "
            "organisation, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(schema, self.entries_table)
        self._upsert_organisation = SQL(
            "INSERT INTO {0}.{1} (code, name) VALUES (%s, %s) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"
        ).format(schema, self.organisations_table)
        self._select_entries = SQL(
            "SELECT e.position, e.kind, e.occurred_at, e.recorded_at, e.organisation, "
            "coalesce(o.name, e.organisation) AS organisation_name, e.detail "
            "FROM {0}.{1} e LEFT JOIN {0}.{2} o ON o.code = e.organisation "
            "WHERE e.subject_key = %s "
            "AND (%s::timestamptz IS NULL OR (e.occurred_at, e.position) < (%s, %s)) "
            "ORDER BY e.occurred_at DESC, e.position DESC LIMIT %s"
        ).format(schema, self.entries_table, self.organisations_table)

    def record_access(self, event: Any, tracking: Tracking) -> None:
        detail = {
            "role": event.role,
            "system": event.system,
            "record": event.record,
            "data_categories": event.data_categories,
            "purpose": event.purpose,
            "lawful_basis": event.lawful_basis,
            "action": event.action,
            "break_glass": event.break_glass,
        }
        rows = [
            (
                key,
                tracking.notification_id,
                "data-accessed",
                event.occurred_at,
                event.timestamp,
                event.organisation,
                Jsonb(detail),
            )
            for key in event.subject_keys
        ]
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(self._insert_entry, rows)
            self._insert_tracking(curs, tracking)

    def record_organisation(self, code: str, name: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._upsert_organisation, (code, name))
            self._insert_tracking(curs, tracking)

    def entries(
        self, subject_key: str, *, limit: int = 50, after: tuple[datetime, int] | None = None
    ) -> list[TimelineEntry]:
        """Newest first; ``after`` is (occurred_at, position) of the previous page's last."""
        when, position = after if after else (None, None)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_entries, (subject_key, when, when, position, limit))
            return [TimelineEntry(**row) for row in curs.fetchall()]


class TimelineProjection(Projection[TimelineView]):
    """Writes each citizen's timeline from the ledger's events."""

    name = "timeline"
    topics = (get_topic(DataAccess.Recorded), get_topic(Organisation.Registered))

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: DataAccess.Recorded, tracking: Tracking) -> None:
        self.view.record_access(domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Organisation.Registered, tracking: Tracking) -> None:
        self.view.record_organisation(
            domain_event.code,
            domain_event.name,
            tracking,
        )
