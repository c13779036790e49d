"""Least privilege in the database: one PostgreSQL role per kind of process.

``ledger init``, connected as the database's owner (the migration role, which alone
creates and changes tables), creates a login role for each process and grants it what
that process does, and nothing else:

========== ==================================================================
writer     the write path (ingest workers; the API's HTTP intake) and disposal:
           appends events, submissions, refusals, source positions and data
           keys; reads them; destroys data keys (an erasure)
sealer     reads events; appends leaves, tree nodes and signed tree heads
projector  reads events and their data keys; owns the views
publisher  reads events; appends outbox positions and what it skipped
api        reads the log and the views; appends who was shown what, and why
========== ==================================================================

No role may update, delete or truncate the log (events, submissions, refusals, leaves,
nodes, tree heads, disclosures): they are not granted it, and a trigger on each refuses
it to anyone who could (an owner by mistake), so only someone who can drop triggers,
the owner or a superuser, can rewrite history; and that ``ledger verify --audit``
catches (``ledger.transparency.provenance``). Every process also beats in
``ledger_processes`` (``ledger.heartbeat``).

Each role is named after the database (``<database>_writer``, so two ledgers in one
cluster never share one), and its password derives from the ledger secret: any process
given the secret and the owner's address can compute its own role's URL
(``ledger database-url --role writer``), and ``ledger run`` starts each process under
its role. With ``LEDGER_DATABASE_ROLES=off`` no role is created and every process uses
``LEDGER_DATABASE_URL`` (a managed database whose operator grants roles another way).

The embedded development PostgreSQL trusts local connections: there the roles guard
against a process doing what it should not, not against someone on the machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.keyring import Keyring
from ledger.settings import Settings, SettingsError

WRITER, SEALER, PROJECTOR, PUBLISHER, API = "writer", "sealer", "projector", "publisher", "api"
ROLES = (WRITER, SEALER, PROJECTOR, PUBLISHER, API)

EVENTS, SUBMISSIONS, REFUSALS = "ledger_events", "ledger_submissions", "ledger_refusals"
TRACKING, EPOCHS, SKIPPED = "ledger_tracking", "ledger_topic_epochs", "ledger_outbox_skipped"
LEAVES, NODES, HEADS = "ledger_log_leaves", "ledger_log_nodes", "ledger_log_tree_heads"
DISCLOSURES, PROCESSES, KEYS = "ledger_log_disclosures", "ledger_processes", "ledger_keys"
BUNDLES = "ledger_sar_bundles"
# Per-subject data keys (ledger.vault): the writer makes them, and destroys them when it
# records an erasure (a trigger lets no change but that through); readers open with them.
DATA_KEYS = "ledger_data_keys"
# The tables of the log itself, and what was disclosed or sent: appended to, never changed.
APPEND_ONLY = (EVENTS, SUBMISSIONS, REFUSALS, LEAVES, NODES, HEADS, DISCLOSURES, BUNDLES)

# role -> (privileges, tables); every role also reads ledger_keys and beats.
_COMMON = [("SELECT", [KEYS]), ("SELECT, INSERT, UPDATE, DELETE", [PROCESSES])]
GRANTS: dict[str, list[tuple[str, list[str]]]] = {
    WRITER: [
        ("SELECT, INSERT", [EVENTS, SUBMISSIONS, REFUSALS]),
        ("SELECT, INSERT, UPDATE", [DATA_KEYS]),
        ("SELECT, INSERT, UPDATE", [TRACKING]),  # one row per source partition, moved on
        ("SELECT", [EPOCHS]),
    ],
    SEALER: [("SELECT", [EVENTS]), ("SELECT, INSERT", [LEAVES, NODES, HEADS])],
    PROJECTOR: [("SELECT", [EVENTS, DATA_KEYS])],
    PUBLISHER: [
        ("SELECT", [EVENTS, REFUSALS, DATA_KEYS]),  # refusals: dead letters to ledger.rejected
        ("SELECT, INSERT, UPDATE", [TRACKING]),
        ("SELECT, INSERT", [SKIPPED]),
    ],
    API: [
        ("SELECT", [EVENTS, SUBMISSIONS, REFUSALS, TRACKING, EPOCHS, SKIPPED, DATA_KEYS]),
        ("SELECT", [LEAVES, NODES, HEADS]),
        ("SELECT, INSERT", [DISCLOSURES, BUNDLES]),
    ],
}
SEQUENCES: dict[str, list[str]] = {
    WRITER: ["ledger_events_notification_id_seq", "ledger_refusals_refusal_id_seq"],
    API: ["ledger_log_disclosures_disclosure_id_seq"],
}
# The write path serialises appends with LOCK TABLE ... IN EXCLUSIVE MODE, which needs
# MAINTAIN (PostgreSQL 17+) or else UPDATE (the append-only trigger still refuses it).
_LOCKED = {WRITER: [EVENTS]}

# The advisory lock every creator of the ledger's tables holds while it creates them:
# concurrent CREATE ... IF NOT EXISTS (or OR REPLACE) collide in PostgreSQL's catalogue.
DDL_LOCK_KEY = 0x1ED6E5
_APPEND_ONLY_FUNCTION = (
    "CREATE OR REPLACE FUNCTION ledger_log_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RAISE EXCEPTION 'the verifiable log is append-only (% on %)', "
    "TG_OP, TG_TABLE_NAME; END $$"
)


class RolesRefused(SettingsError):
    """The database user may not create roles (set LEDGER_DATABASE_ROLES=off)."""


def enabled(settings: Settings) -> bool:
    if settings.database_roles not in ("on", "off"):
        raise SettingsError(
            f"LEDGER_DATABASE_ROLES must be on or off, not {settings.database_roles!r}"
        )
    return settings.database_roles == "on"


def role_name(database_url: str, role: str) -> str:
    """``<database>_<role>``, within PostgreSQL's 63 bytes."""
    database = str(conninfo_to_dict(database_url).get("dbname") or "postgres")
    return f"{database[: 62 - len(role)]}_{role}"


def role_password(keyring: Keyring, name: str) -> str:
    """The role's password, derived from the ledger secret (never stored by the ledger)."""
    key = keyring.derive(b"database roles")
    return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()


def role_url(settings: Settings, role: str, keyring: Keyring | None = None) -> str:
    """The owner's database URL, as ``role`` (its derived password)."""
    keyring = keyring or Keyring.from_settings(settings)
    name = role_name(settings.database_url, role)
    return make_conninfo(settings.database_url, user=name, password=role_password(keyring, name))


def may_create(conn: psycopg.Connection[Any]) -> bool:
    """Whether this connection's role may create tables: the owner's (migrations) may;
    a process's own role may not, and finds its tables made by ``ledger init``."""
    with conn.cursor(row_factory=tuple_row) as cur:  # whatever the connection's rows
        row = cur.execute("SELECT has_schema_privilege(current_schema(), 'CREATE')").fetchone()
    return bool(row and row[0])


def may_create_schemas(conn: psycopg.Connection[Any]) -> bool:
    """Whether this connection's role may create schemas (views): the owner's and the
    projector's may; the other processes' may not."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()
    return bool(row and row[0])


def require_tables(conn: psycopg.Connection[Any], tables: Iterable[str]) -> None:
    """Raise a clear error if a table this role cannot create is missing."""
    with conn.cursor(row_factory=tuple_row) as cur:
        missing = [
            t for t in tables if cur.execute("SELECT to_regclass(%s)", (t,)).fetchone() == (None,)
        ]
    if missing:
        raise SettingsError(
            f"the database has no {', '.join(missing)} and this process's role may not create "
            "tables: run `ledger init` with the owner's LEDGER_DATABASE_URL first"
        )


def append_only_statements(tables: Sequence[str]) -> list[Composed]:
    """DDL that refuses UPDATE, DELETE and TRUNCATE on ``tables`` to anyone a trigger
    binds (idempotent): the recorders run it with their tables."""
    return [
        SQL(_APPEND_ONLY_FUNCTION).format(),
        *(
            SQL(
                "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_log_append_only()"
            ).format(Identifier(f"{table}_append_only"), Identifier(table))
            for table in tables
        ),
    ]


def ensure_roles(
    conn: psycopg.Connection[Any], settings: Settings, view_schemas: Sequence[str]
) -> dict[str, str]:
    """Create or update every role, its password and its grants (idempotent; run by
    the owner after the tables exist). Answers role -> role name."""
    keyring = Keyring.from_settings(settings)
    names = {role: role_name(settings.database_url, role) for role in ROLES}
    maintain = conn.info.server_version >= 170000
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('ledger database roles'))")
        for name in names.values():
            _login_role(conn, name, role_password(keyring, name))
        database = Identifier(conn.info.dbname)
        tables = {t for g in GRANTS.values() for _, ts in g for t in ts} | {KEYS, PROCESSES}
        present = [t for t in sorted(tables) if _exists(conn, t)]
        for role, name in names.items():
            who = Identifier(name)
            conn.execute(SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, who))
            conn.execute(SQL("GRANT USAGE ON SCHEMA public TO {}").format(who))
            for table in present:  # start from nothing: a grant taken away stays away
                conn.execute(SQL("REVOKE ALL ON {} FROM {}").format(Identifier(table), who))
            for privileges, granted in _COMMON + GRANTS[role]:
                for table in granted:
                    if table in present:
                        conn.execute(
                            SQL("GRANT " + privileges + " ON {} TO {}").format(
                                Identifier(table), who
                            )
                        )
            for sequence in SEQUENCES.get(role, []):
                if _exists(conn, sequence):
                    conn.execute(
                        SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                            Identifier(sequence), who
                        )
                    )
            for table in _LOCKED.get(role, []):
                conn.execute(
                    SQL("GRANT " + ("MAINTAIN" if maintain else "UPDATE") + " ON {} TO {}").format(
                        Identifier(table), who
                    )
                )
        projector = Identifier(names[PROJECTOR])
        conn.execute(SQL("GRANT CREATE ON DATABASE {} TO {}").format(database, projector))
        for schema in view_schemas:  # views made before the roles: the projector's now
            if _schema_exists(conn, schema):
                _give_schema(conn, schema, projector)
    return names


def grant_views_to_api(
    conn: psycopg.Connection[Any], settings: Settings, schemas: Sequence[str]
) -> None:
    """Run as the projector: the API reads every view, those made from now on included."""
    api = Identifier(role_name(settings.database_url, API))
    conn.execute(SQL("ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO {}").format(api))
    conn.execute(SQL("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {}").format(api))
    for schema in schemas:
        if _schema_exists(conn, schema):
            conn.execute(SQL("GRANT USAGE ON SCHEMA {} TO {}").format(Identifier(schema), api))
            conn.execute(
                SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(Identifier(schema), api)
            )


def _login_role(conn: psycopg.Connection[Any], name: str, password: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    try:
        conn.execute(
            SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                Identifier(name), Literal(password)
            )
        )
    except psycopg.errors.InsufficientPrivilege:
        raise RolesRefused(
            f"the database user may not {verb.lower()} the role {name}: give it CREATEROLE, or "
            "set LEDGER_DATABASE_ROLES=off and grant each process's role yourself "
            "(docs/operations.md)"
        ) from None


def _give_schema(conn: psycopg.Connection[Any], schema: str, owner: Identifier) -> None:
    conn.execute(SQL("ALTER SCHEMA {} OWNER TO {}").format(Identifier(schema), owner))
    for (table,) in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
    ).fetchall():
        name = SQL("{}.{}").format(Identifier(schema), Identifier(table))
        conn.execute(SQL("ALTER TABLE {} OWNER TO {}").format(name, owner))


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
    return row is not None and row[0] is not None


def _schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return row is not None


def as_role(settings: Settings, role: str) -> Settings:
    """``settings`` connecting as ``role`` when the roles are on and ``ledger init``
    made them (an administrator's command that acts for a process: a rebuild of the
    projector's views); else ``settings`` as they are."""
    if not enabled(settings):
        return settings
    name = role_name(settings.database_url, role)
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=10) as conn:
        made = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if made is None:
        return settings
    return dataclasses.replace(settings, database_url=role_url(settings, role))
