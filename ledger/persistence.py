"""PostgreSQL persistence of the ledger, behind eventsourcing's recorder interface.

The ledger's recorder extends eventsourcing's process recorder so that one transaction
holds, together: the recorded events, the refusals, and the Kafka position of every
partition the batch came from (as tracking rows named ``kafka:<topic>:<partition>``).
A redelivered record therefore finds its position already tracked and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing import postgres as es_postgres
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.database_roles import (
    DDL_LOCK_KEY,
    append_only_statements,
    may_create,
    require_tables,
)
from ledger.domain.erasure import KeysChanged
from ledger.recording import Known
from ledger.refusals import RefusalRecord
from ledger.vault import Vault, is_sealed

# The only change ledger_data_keys takes: a live key destroyed (its wrapped bytes and its
# subject's tag set to NULL, when and by which erasure recorded), nothing else changed.
_DESTROY_ONLY_FUNCTION = (
    "CREATE OR REPLACE FUNCTION ledger_data_keys_destroy_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND OLD.wrapped IS NOT NULL AND NEW.wrapped IS NULL "
    "AND NEW.subject_tag IS NULL AND NEW.destroyed_at IS NOT NULL "
    "AND NEW.originator_id = OLD.originator_id "
    "AND NEW.originator_version = OLD.originator_version AND NEW.slot = OLD.slot THEN "
    "RETURN NEW; END IF; "
    "RAISE EXCEPTION 'a data key is only ever destroyed (% on %)', TG_OP, TG_TABLE_NAME; "
    "END $$"
)


class DuplicateSubmission(IntegrityError):
    """The batch carries a submission (source, id) that is already recorded."""


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with ``prefix`` literally."""
    escaped = prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return escaped + "%"


def legacy_stream_name(topic: str, partition: int) -> str:
    """How positions were tracked before topic incarnations: adopted or forgotten once."""
    return f"kafka:{topic}:{partition}"


class SerialisedDDL:
    """Mixin for recorders: create tables under a transaction-scoped advisory lock.

    Concurrent ``CREATE TABLE IF NOT EXISTS`` in two processes (an ingest worker and a
    projection runner starting together) can fail on PostgreSQL's catalogue uniqueness.
    A process connected under its own role (``ledger.database_roles``) creates nothing:
    it checks that ``ledger init`` made the tables.
    """

    datastore: Any

    def ddl_tables(self) -> list[str]:
        """The tables this recorder's DDL creates (to check they exist)."""
        return []

    def create_table(self) -> None:
        # Session-level lock: eventsourcing inspects existing tables before its DDL
        # transaction, so the whole method must be serialised, not just the transaction.
        with self.datastore.get_connection() as conn:
            if not may_create(conn):  # a process's own role: `ledger init` made them
                require_tables(conn, self.ddl_tables())
                return
            conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK_KEY,))
            try:
                super().create_table()  # type: ignore[misc]
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK_KEY,))


class LedgerRecorder(SerialisedDDL, PostgresProcessRecorder):
    """Events + refusals + Kafka positions, in one transaction."""

    def ddl_tables(self) -> list[str]:
        return [
            self.events_table_name,
            self.tracking_table_name,
            *(
                self.events_table_name.replace("_events", suffix)
                for suffix in ("_refusals", "_submissions", "_outbox_skipped", "_topic_epochs")
            ),
        ]

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.refusals_table = Identifier(self.events_table_name.replace("_events", "_refusals"))
        # raw_sealed holds what is kept of the received bytes (bounded: see
        # ledger.refusals), raw_sha256 their hash, raw_size the whole submission's size.
        # A Kafka position is unique within its topic's incarnation.
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "refusal_id bigserial PRIMARY KEY, "
                "received_at timestamptz NOT NULL, "
                "reason text NOT NULL, detail text NOT NULL, pointer text NOT NULL, "
                "raw_sha256 text NOT NULL, raw_sealed bytea NOT NULL, channel text NOT NULL, "
                "topic text, kafka_partition int, kafka_offset bigint)"
            ).format(schema, self.refusals_table)
        )
        refusals_name = self.events_table_name.replace("_events", "_refusals")
        for column in (
            "topic_incarnation text",
            "raw_size bigint",
            "raw_truncated boolean NOT NULL DEFAULT false",
            "request_id text",
            "caller text",
        ):
            self.sql_create_statements.append(
                SQL("ALTER TABLE {0}.{1} ADD COLUMN IF NOT EXISTS " + column).format(
                    schema, self.refusals_table
                )
            )
        self.sql_create_statements += [
            # The unique key of the first version ignored the incarnation: a topic
            # created anew reused its offsets, and its refusals collided with the old.
            SQL("ALTER TABLE {0}.{1} DROP CONSTRAINT IF EXISTS {2}").format(
                schema,
                self.refusals_table,
                Identifier(f"{refusals_name}_topic_kafka_partition_kafka_offset_key"),
            ),
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS {2} ON {0}.{1} "
                "(topic, topic_incarnation, kafka_partition, kafka_offset)"
            ).format(schema, self.refusals_table, Identifier(f"{refusals_name}_position")),
        ]
        # Records the outbox publisher could not publish and skipped past (reported).
        self.skipped_table = Identifier(
            self.events_table_name.replace("_events", "_outbox_skipped")
        )
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (topic text NOT NULL, position bigint "
                "NOT NULL, reason text NOT NULL, skipped_at timestamptz NOT NULL DEFAULT now(), "
                "PRIMARY KEY (topic, position))"
            ).format(schema, self.skipped_table),
            # The outbox publisher was called the relay: keep its positions.
            SQL(
                "UPDATE {0}.{1} SET application_name = 'outbox:' || substr(application_name, 7) "
                "WHERE application_name LIKE 'relay:%'"
            ).format(schema, Identifier(self.tracking_table_name)),
        ]
        # The fallback incarnation of a topic whose broker names no topic ids: an epoch
        # the ledger moves on each time it creates the topic.
        self.topic_epochs_table = Identifier(
            self.events_table_name.replace("_events", "_topic_epochs")
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (topic text PRIMARY KEY, "
                "epoch bigint NOT NULL, changed_at timestamptz NOT NULL DEFAULT now())"
            ).format(schema, self.topic_epochs_table)
        )
        # A ledger event is ~2.2 kB, just over PostgreSQL's 2 kB TOAST threshold: by
        # default every event's state was moved out of line into the TOAST table (it does
        # not compress: it carries a sealed envelope), doubling the writes of an append
        # and the reads of every reader. Keep rows up to 8 kB in the table itself.
        events = SQL("{0}.{1}").format(schema, Identifier(self.events_table_name))
        self.sql_create_statements.append(
            SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_class WHERE oid = {0}::regclass "
                "AND reloptions @> ARRAY['toast_tuple_target=8160']) THEN "
                "ALTER TABLE {1} SET (toast_tuple_target = 8160); END IF; END $$"
            ).format(Literal(f"{self.datastore.schema}.{self.events_table_name}"), events)
        )
        self.insert_refusal_statement = SQL(
            "INSERT INTO {0}.{1} (received_at, reason, detail, pointer, raw_sha256, raw_sealed, "
            "raw_size, raw_truncated, channel, topic, topic_incarnation, kafka_partition, "
            "kafka_offset, request_id, caller) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(schema, self.refusals_table)
        events_table = Identifier(self.events_table_name)
        self.copy_events_statement = SQL(
            "COPY {0}.{1} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(schema, events_table)
        self.last_notification_id_statement = SQL(
            "SELECT currval(pg_get_serial_sequence(%s, 'notification_id')) AS last"
        )
        self._events_table_text = f"{self.datastore.schema}.{self.events_table_name}"
        self.select_existing_statement = SQL(
            "SELECT originator_id FROM {0}.{1} WHERE originator_id = ANY(%s)"
        ).format(schema, Identifier(self.events_table_name))
        # Idempotency of submissions, whatever aggregate they change: (source, id) once,
        # with the event it became (its position is that event's notification id).
        self.submissions_table = Identifier(
            self.events_table_name.replace("_events", "_submissions")
        )
        # content_sha256: what the event said (ledger.signing.content_digest), so a
        # resend with other content is told from a true resend.
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "source text NOT NULL, event_id text NOT NULL, "
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
                "PRIMARY KEY (source, event_id))"
            ).format(schema, self.submissions_table),
            SQL("ALTER TABLE {0}.{1} ADD COLUMN IF NOT EXISTS content_sha256 bytea").format(
                schema, self.submissions_table
            ),
        ]
        # The log is appended to, never changed: no role is granted more, and a trigger
        # refuses UPDATE, DELETE and TRUNCATE even to an owner (ledger.database_roles).
        self.sql_create_statements += append_only_statements(
            [
                self.events_table_name,
                self.events_table_name.replace("_events", "_submissions"),
                self.events_table_name.replace("_events", "_refusals"),
            ]
        )
        # Per-subject data keys (ledger.vault): one row per slot of an event that holds
        # personal values, the key wrapped under the ledger's key-encryption key. A key
        # is destroyed by setting ``wrapped`` (and the subject's tag) to NULL, and that
        # is the only change the table takes: a trigger refuses any other, and DELETE.
        self.data_keys_table = Identifier(self.events_table_name.replace("_events", "_data_keys"))
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
                "slot text NOT NULL, wrapped bytea, subject_tag bytea, "
                "destroyed_at timestamptz, erasure uuid, "
                "PRIMARY KEY (originator_id, originator_version, slot))"
            ).format(schema, self.data_keys_table),
            SQL(
                "CREATE INDEX IF NOT EXISTS {2} ON {0}.{1} (subject_tag) "
                "WHERE subject_tag IS NOT NULL"
            ).format(
                schema,
                self.data_keys_table,
                Identifier(self.events_table_name.replace("_events", "_data_keys_subject")),
            ),
            SQL(_DESTROY_ONLY_FUNCTION).format(),
            SQL(
                "CREATE OR REPLACE TRIGGER {0} BEFORE UPDATE OR DELETE ON {1}.{2} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_data_keys_destroy_only()"
            ).format(
                Identifier(self.events_table_name.replace("_events", "_data_keys_destroy_only")),
                schema,
                self.data_keys_table,
            ),
            SQL(
                "CREATE OR REPLACE TRIGGER {0} BEFORE TRUNCATE ON {1}.{2} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_log_append_only()"
            ).format(
                Identifier(self.events_table_name.replace("_events", "_data_keys_no_truncate")),
                schema,
                self.data_keys_table,
            ),
        ]
        self.copy_data_keys_statement = SQL(
            "COPY {0}.{1} (originator_id, originator_version, slot, wrapped, subject_tag) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(schema, self.data_keys_table)
        self.select_data_keys_statement = SQL(
            "SELECT k.originator_id, k.originator_version, k.slot, k.wrapped FROM {0}.{1} k "
            "JOIN unnest(%s::uuid[], %s::int8[]) AS e(originator_id, originator_version) "
            "USING (originator_id, originator_version)"
        ).format(schema, self.data_keys_table)
        self.destroy_keys_statement = SQL(
            "UPDATE {0}.{1} k SET wrapped = NULL, subject_tag = NULL, destroyed_at = now(), "
            "erasure = %s FROM unnest(%s::uuid[], %s::int8[], %s::text[]) "
            "AS d(originator_id, originator_version, slot) "
            "WHERE k.originator_id = d.originator_id "
            "AND k.originator_version = d.originator_version AND k.slot = d.slot "
            "AND k.wrapped IS NOT NULL"
        ).format(schema, self.data_keys_table)
        self.vault: Vault | None = None
        # Personal members this process never reads, left unopened (null) when it reads
        # events: the projection runner never reads the envelope (``ledger.vault``).
        self.skip: frozenset[str] = frozenset()
        self._submissions_key = self.events_table_name.replace("_events", "_submissions") + "_pkey"
        self.copy_submissions_statement = SQL(
            "COPY {0}.{1} (source, event_id, originator_id, originator_version, content_sha256) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(schema, self.submissions_table)
        self.select_submitted_statement = SQL(
            "SELECT s.source, s.event_id, e.notification_id, s.content_sha256 FROM {0}.{1} s "
            "JOIN {0}.{2} e USING (originator_id, originator_version) "
            "JOIN unnest(%s::text[], %s::text[]) AS k(source, event_id) "
            "ON k.source = s.source AND k.event_id = s.event_id"
        ).format(schema, self.submissions_table, Identifier(self.events_table_name))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """eventsourcing's read of the notification log, in PostgreSQL's binary format.

        In the text format every event's state (a ~2 kB ``bytea``) is hex-encoded by the
        server and decoded again by psycopg: that was four fifths of the cost of a
        read (25 us an event; 5.6 us in binary). Same rows, same order, same arguments.
        """
        conditions: list[SQL] = []
        params: list[Any] = []
        if start is not None:
            conditions.append(
                SQL("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            )
            params.append(start)
        if stop is not None:
            conditions.append(SQL("notification_id <= %s"))
            params.append(stop)
        if topics:
            conditions.append(SQL("topic = ANY(%s)"))
            params.append(list(topics))
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {0}.{1}"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        if conditions:
            statement += SQL(" WHERE ") + SQL(" AND ").join(conditions)
        statement += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        return [
            Notification(
                id=row[0],
                originator_id=row[1],
                originator_version=row[2],
                topic=row[3],
                state=row[4],
            )
            for row in self._read_binary(statement, params, tuple_row)
        ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """eventsourcing's read of one aggregate's events, in the binary format (as
        :meth:`select_notifications`): same rows, same order, same arguments."""
        statement = self.select_events_statement
        params: list[Any] = [originator_id]
        if gt is not None:
            params.append(gt)
            statement += SQL(" AND originator_version > %s")
        if lte is not None:
            params.append(lte)
            statement += SQL(" AND originator_version <= %s")
        statement += SQL(
            " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC"
        )
        if limit is not None:
            params.append(limit)
            statement += SQL(" LIMIT %s")
        return [
            StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in self._read_binary(statement, params, dict_row)
        ]

    def _read_binary(self, statement: Composed, params: list[Any], rows: Any) -> list[Any]:
        """A read's rows in PostgreSQL's binary format (``bytea`` arrives as it is), each
        state with its personal values opened (``ledger.vault``)."""
        with self.datastore.get_connection() as conn:
            with conn.cursor(binary=True, row_factory=rows) as curs:
                curs.execute(statement, params, prepare=True)
                found = list(curs.fetchall())
            if rows is dict_row:
                triples = [(r["originator_id"], r["originator_version"], r["state"]) for r in found]
                for row, state in zip(found, self._opened(conn, triples), strict=True):
                    row["state"] = state
                return found
            triples = [(r[1], r[2], r[4]) for r in found]
            return [
                (*row[:4], state)
                for row, state in zip(found, self._opened(conn, triples), strict=True)
            ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Append events (binary COPY) with tracking, refusals and submissions, in one
        transaction.

        eventsourcing's own path encodes a composite-type array and runs in pipeline
        mode: a third of ingest time here, and the pipeline can deadlock on large saves
        (DESIGN.md). COPY cannot run in a pipeline, so this path uses none.
        """
        try:
            return self._append(stored_events, **kwargs)
        except IntegrityError as exc:
            cause = exc.__cause__
            diag = getattr(cause, "diag", None)
            if diag is not None and diag.constraint_name == self._submissions_key:
                raise DuplicateSubmission(str(exc)) from cause
            raise

    def _append(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        # Sealed before the transaction: its CPU holds neither a connection nor a lock.
        sealed, keys = self._seal(stored_events)
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return []
            # The EXCLUSIVE lock serialises writers, so readers never pass over a gap
            # that a slower transaction fills in later, and this transaction's sequence
            # values are consecutive: no other writer can draw from it until we commit.
            self._lock_table(curs)
            self._notify_channel(curs)
            with curs.copy(self.copy_events_statement) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for event, state in zip(stored_events, sealed, strict=True):
                    copy.write_row(
                        (event.originator_id, event.originator_version, event.topic, state)
                    )
            if keys:
                with curs.copy(self.copy_data_keys_statement) as copy:
                    copy.set_types(["uuid", "int8", "text", "bytea", "bytea"])
                    for row in keys:
                        copy.write_row(row)
            curs.execute(self.last_notification_id_statement, (self._events_table_text,))
            row = curs.fetchone()
            assert row is not None
            last = int(row["last"])
            return list(range(last - len(stored_events) + 1, last + 1))

    def _seal(
        self, stored_events: Sequence[StoredEvent]
    ) -> tuple[list[bytes], list[tuple[UUID, int, str, bytes, bytes | None]]]:
        """Each event's state with its personal values sealed, and the key rows."""
        if not stored_events:
            return [], []
        vault = self.vault
        if vault is None:
            raise RuntimeError("this ledger was opened without its vault: it cannot store events")
        states: list[bytes] = []
        keys: list[tuple[UUID, int, str, bytes, bytes | None]] = []
        for event in stored_events:
            oid, version = cast(UUID, event.originator_id), event.originator_version
            state, slots = vault.seal(f"{oid}/{version}", event.state)
            states.append(state)
            keys += [(oid, version, k.slot, k.wrapped, k.subject_tag) for k in slots]
        return states, keys

    def _destroy_keys(
        self, curs: Cursor[DictRow], erasure: UUID, keys: Sequence[tuple[UUID, int, str]]
    ) -> None:
        """Destroy data keys, in the transaction that records the erasure naming them;
        :class:`KeysChanged` (and nothing done) if any is already gone."""
        if not keys:
            return
        curs.execute(
            self.destroy_keys_statement,
            (erasure, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]),
        )
        if curs.rowcount != len(set(keys)):
            raise KeysChanged(
                f"{len(set(keys)) - curs.rowcount} of the {len(keys)} keys to destroy were "
                "already gone: nothing was erased; run again"
            )

    def data_keys(
        self, conn: Connection[Any], events: Sequence[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], dict[str, bytes | None]]:
        """The wrapped keys (None where destroyed) of events, by event and slot."""
        found: dict[tuple[UUID, int], dict[str, bytes | None]] = {}
        if not events:
            return found
        with conn.cursor(binary=True, row_factory=tuple_row) as curs:
            curs.execute(
                self.select_data_keys_statement,
                ([e[0] for e in events], [e[1] for e in events]),
                prepare=True,
            )
            for oid, version, slot, wrapped in curs.fetchall():
                found.setdefault((oid, version), {})[slot] = wrapped
        return found

    def _opened(
        self, conn: Connection[Any], rows: Sequence[tuple[UUID, int, bytes]]
    ) -> list[bytes]:
        """The states of (originator id, version, state) rows with their personal values
        opened with the keys still held (null where destroyed)."""
        sealed = [is_sealed(state) for _, _, state in rows]
        if not any(sealed):
            return [state for _, _, state in rows]
        vault = self.vault
        if vault is None:
            raise RuntimeError("this ledger was opened without its vault: it cannot read events")
        holding = [(oid, v) for (oid, v, _), s in zip(rows, sealed, strict=True) if s]
        wrapped = self.data_keys(conn, holding)
        opened: list[bytes] = []
        for (oid, version, state), holds_tokens in zip(rows, sealed, strict=True):
            if holds_tokens:
                keys = vault.keys_of(wrapped.get((oid, version), {}))
                state = vault.open(f"{oid}/{version}", state, keys, self.skip, salts=False).state
            opened.append(state)
        return opened

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        destroy = kwargs.get("destroy")
        if destroy is not None:
            self._destroy_keys(curs, *destroy)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking)
        refusals: Sequence[RefusalRecord] = kwargs.get("refusals", ())
        if refusals:
            curs.executemany(
                self.insert_refusal_statement,
                [
                    (
                        r.received_at,
                        r.reason,
                        r.detail,
                        r.pointer,
                        r.received_sha256,
                        r.kept_sealed,
                        r.received_size,
                        r.truncated,
                        r.channel,
                        r.topic,
                        r.incarnation,
                        r.partition,
                        r.offset,
                        r.request_id,
                        r.caller,
                    )
                    for r in refusals
                ],
            )
        submissions: Sequence[tuple[str, str, UUID, int, bytes | None]] = kwargs.get(
            "submissions", ()
        )
        if submissions:
            with curs.copy(self.copy_submissions_statement) as copy:
                copy.set_types(["text", "text", "uuid", "int8", "bytea"])
                for row in submissions:
                    copy.write_row(row)
        super()._insert_events(curs, stored_events, **kwargs)

    def existing(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates are already recorded (the duplicate check)."""
        if not originator_ids:
            return set()
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_existing_statement, (list(originator_ids),))
            return {row["originator_id"] for row in curs.fetchall()}

    def submitted(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        """Ledger positions (and content digests) of the submissions already recorded,
        by (source, id)."""
        if not keys:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self.select_submitted_statement, ([k[0] for k in keys], [k[1] for k in keys])
            )
            return {
                (r["source"], r["event_id"]): (
                    r["notification_id"],
                    None if r["content_sha256"] is None else bytes(r["content_sha256"]),
                )
                for r in curs.fetchall()
            }

    def select_refusals(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Stored refusals with ``refusal_id > after``, oldest first (the dead-letter outbox)."""
        statement = SQL(
            "SELECT refusal_id, reason, detail, pointer, raw_sha256, raw_sealed, raw_size, "
            "raw_truncated, "
            "channel, topic, topic_incarnation, kafka_partition, kafka_offset, request_id, caller "
            "FROM {0}.{1} WHERE refusal_id > %s ORDER BY refusal_id LIMIT %s"
        ).format(Identifier(self.datastore.schema), self.refusals_table)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (after, limit))
            return list(curs.fetchall())

    def forget_positions(self, prefix: str) -> int:
        """Delete tracked positions whose name starts with ``prefix``; how many there were.

        For a source that started again from its beginning (a Kafka topic created anew):
        its old offsets would make the next reader skip the new records.
        """
        statement = SQL("DELETE FROM {0}.{1} WHERE application_name LIKE %s").format(
            Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
        )
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, (_like_prefix(prefix),))
            return int(curs.rowcount)

    def topic_epoch(self, topic: str, *, advance: bool = False) -> int:
        """The ledger's epoch of ``topic`` (0 before it was ever recorded); ``advance``
        moves it on (the topic was just created anew) and returns the new one."""
        schema = Identifier(self.datastore.schema)
        with self.datastore.transaction(commit=True) as curs:
            if advance:
                curs.execute(
                    SQL(
                        "INSERT INTO {0}.{1} (topic, epoch) VALUES (%s, 1) ON CONFLICT (topic) "
                        "DO UPDATE SET epoch = {1}.epoch + 1, changed_at = now() RETURNING epoch"
                    ).format(schema, self.topic_epochs_table),
                    (topic,),
                )
            else:
                curs.execute(
                    SQL("SELECT epoch FROM {0}.{1} WHERE topic = %s").format(
                        schema, self.topic_epochs_table
                    ),
                    (topic,),
                )
            row = curs.fetchone()
            return 0 if row is None else int(row["epoch"])

    def record_skipped(self, topic: str, position: int, reason: str) -> None:
        """Note that the outbox publisher skipped past ``position`` of ``topic``."""
        statement = SQL(
            "INSERT INTO {0}.{1} (topic, position, reason) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING"
        ).format(Identifier(self.datastore.schema), self.skipped_table)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, (topic, position, reason[:500]))

    def rename_positions(self, renames: dict[str, str]) -> int:
        """Track positions under new names (old name -> new name); how many moved."""
        statement = SQL(
            "UPDATE {0}.{1} SET application_name = %s WHERE application_name = %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name))
        moved = 0
        with self.datastore.transaction(commit=True) as curs:
            for old, new in renames.items():
                curs.execute(statement, (new, old))
                moved += curs.rowcount
        return moved

    def positions(self, prefix: str) -> dict[str, int]:
        """Tracked positions whose name starts with ``prefix`` (e.g. ``kafka:topic:``)."""
        statement = SQL(
            "SELECT application_name, notification_id FROM {0}.{1} WHERE application_name LIKE %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (_like_prefix(prefix),))
            return {row["application_name"]: row["notification_id"] for row in curs.fetchall()}


class Factory(es_postgres.PostgresFactory):  # module-qualified: eventsourcing wants one
    # factory class in this module's namespace
    """eventsourcing infrastructure factory that builds the ledger's recorder."""

    process_recorder_class = LedgerRecorder
    application_recorder_class = LedgerRecorder


__all__ = [
    "DuplicateSubmission",
    "Factory",
    "LedgerRecorder",
    "Tracking",
    "legacy_stream_name",
]
