"""Least privilege in the database: ``ledger init`` makes a role per kind of process,
each may do its own work and nothing else, and nobody it binds may update, delete or
truncate the log.

Before, every process connected as the PostgreSQL superuser and ``ledger_events`` had
no append-only guard: any process, or anyone with its connection, could rewrite history.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest

from cli.main import main
from ledger import database_roles as roles
from ledger.application import Ledger
from ledger.incoming import Direct, Incoming
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from ledger.writing import WritePath
from tests.support.contract import example_intake, register_example_service, story

pytestmark = pytest.mark.integration

A_ROW = "('00000000-0000-0000-0000-000000000001', 1, 'x', '\\x7b7d'::bytea)"
INSERT_EVENT = (
    f"INSERT INTO ledger_events (originator_id, originator_version, topic, state) VALUES {A_ROW}"
)
UPDATE_EVENT = "UPDATE ledger_events SET topic = topic"
DELETE_EVENT = "DELETE FROM ledger_events"
TRUNCATE_EVENTS = "TRUNCATE ledger_events"
INSERT_LEAF = "INSERT INTO ledger_log_leaves VALUES (999, 999, gen_random_uuid(), 1, 2)"
UPDATE_LEAF = "UPDATE ledger_log_leaves SET leaf_format = 2"
INSERT_HEAD = "INSERT INTO ledger_log_tree_heads VALUES (999, '\\x00', 0, 'o', '\\x00')"
DELETE_HEAD = "DELETE FROM ledger_log_tree_heads"
INSERT_REFUSAL = (
    "INSERT INTO ledger_refusals (received_at, reason, detail, pointer, raw_sha256, "
    "raw_sealed, channel) VALUES (now(), 'r', 'd', '', 'h', '\\x00', 'direct')"
)
DELETE_REFUSALS = "DELETE FROM ledger_refusals"
DELETE_SUBMISSIONS = "DELETE FROM ledger_submissions"
DISCLOSE = "INSERT INTO ledger_log_disclosures (position, principal, role, reason) VALUES (1, 'p', 'auditor', 'r')"  # noqa: E501
UNDISCLOSE = "DELETE FROM ledger_log_disclosures"
READ_EVENTS = "SELECT count(*) FROM ledger_events"
READ_TIMELINE = "SELECT count(*) FROM timeline.entries"
WRITE_TIMELINE = "DELETE FROM timeline.entries"
CREATE_TABLE = "CREATE TABLE public.mine (x int)"
LOCK_EVENTS = "LOCK TABLE ledger_events IN EXCLUSIVE MODE"

# (role, statement, allowed): what each process may do, and a sample of what it may not.
MATRIX = [
    (roles.WRITER, READ_EVENTS, True),
    (roles.WRITER, INSERT_EVENT, True),
    (roles.WRITER, LOCK_EVENTS, True),
    (roles.WRITER, INSERT_REFUSAL, True),
    (roles.WRITER, UPDATE_EVENT, False),
    (roles.WRITER, DELETE_EVENT, False),
    (roles.WRITER, TRUNCATE_EVENTS, False),
    (roles.WRITER, DELETE_REFUSALS, False),
    (roles.WRITER, DELETE_SUBMISSIONS, False),
    (roles.WRITER, INSERT_LEAF, False),
    (roles.WRITER, READ_TIMELINE, False),
    (roles.WRITER, CREATE_TABLE, False),
    (roles.SEALER, READ_EVENTS, True),
    (roles.SEALER, INSERT_LEAF, True),
    (roles.SEALER, INSERT_HEAD, True),
    (roles.SEALER, INSERT_EVENT, False),
    (roles.SEALER, UPDATE_LEAF, False),
    (roles.SEALER, DELETE_HEAD, False),
    (roles.SEALER, CREATE_TABLE, False),
    (roles.PROJECTOR, READ_EVENTS, True),
    (roles.PROJECTOR, WRITE_TIMELINE, True),
    (roles.PROJECTOR, INSERT_EVENT, False),
    (roles.PROJECTOR, INSERT_LEAF, False),
    (roles.PROJECTOR, DELETE_EVENT, False),
    (roles.PUBLISHER, READ_EVENTS, True),
    (roles.PUBLISHER, INSERT_EVENT, False),
    (roles.PUBLISHER, DELETE_REFUSALS, False),
    (roles.PUBLISHER, READ_TIMELINE, False),
    (roles.API, READ_EVENTS, True),
    (roles.API, READ_TIMELINE, True),
    (roles.API, DISCLOSE, True),
    (roles.API, INSERT_EVENT, False),
    (roles.API, INSERT_LEAF, False),
    (roles.API, UNDISCLOSE, False),
    (roles.API, WRITE_TIMELINE, False),
    (roles.API, CREATE_TABLE, False),
]


@pytest.fixture
def initialised(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> Settings:
    assert main(["init"]) == 0, capsys.readouterr().err
    return cli_env


def attempt(url: str, statement: str) -> str | None:
    """Run ``statement`` in a transaction rolled back; the error, or None."""
    with psycopg.connect(url) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        finally:
            conn.rollback()
    return None


@pytest.mark.parametrize(
    ("role", "statement", "allowed"),
    MATRIX,
    ids=[
        f"{r}-{'may' if a else 'may-not'}-{s.split()[0].lower()}-{i}"
        for i, (r, s, a) in enumerate(MATRIX)
    ],
)
def test_each_role_may_do_its_work_and_nothing_else(
    initialised: Settings, role: str, statement: str, allowed: bool
) -> None:
    error = attempt(roles.role_url(initialised, role), statement)

    if allowed:
        assert error is None, error
    else:
        assert error is not None, f"{role} may run {statement}"
        assert "InsufficientPrivilege" in error or "append-only" in error, error


@pytest.mark.parametrize(
    "statement", [UPDATE_EVENT, DELETE_EVENT, TRUNCATE_EVENTS, DELETE_SUBMISSIONS, DELETE_REFUSALS]
)
def test_even_the_owner_cannot_change_the_log_without_dropping_its_guard(
    initialised: Settings, statement: str
) -> None:
    error = attempt(initialised.database_url, statement)

    assert error is not None and "append-only" in error, error


def test_the_roles_are_the_databases_own(initialised: Settings) -> None:
    database = psycopg.conninfo.conninfo_to_dict(initialised.database_url)["dbname"]
    with psycopg.connect(initialised.database_url) as conn:
        found = {
            name
            for (name,) in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"{database}\\_%",)
            )
        }
        superusers = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s) AND "
            "(rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls)",
            (list(found),),
        ).fetchone()
    assert found == {f"{database}_{role}" for role in roles.ROLES}
    assert superusers == (0,)


def test_init_again_changes_nothing_and_keeps_a_grant_taken_away_away(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = roles.role_name(initialised.database_url, roles.WRITER)
    with psycopg.connect(initialised.database_url, autocommit=True) as conn:
        conn.execute(f'GRANT DELETE ON ledger_log_leaves TO "{writer}"')

    assert main(["init"]) == 0, capsys.readouterr().err

    error = attempt(roles.role_url(initialised, roles.WRITER), "DELETE FROM ledger_log_leaves")
    assert error is not None and "InsufficientPrivilege" in error


def _as(settings: Settings, role: str, **more: Any) -> Settings:
    return dataclasses.replace(settings, database_url=roles.role_url(settings, role), **more)


def test_the_write_path_and_the_sealer_do_their_work_under_their_roles(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = Ledger.from_settings(initialised)
    register_example_service(owner)  # the administrators' registrations, as the owner
    owner.close()
    writer = _as(initialised, roles.WRITER)
    ledger = Ledger.from_settings(writer)
    write = WritePath(ledger, example_intake(ledger, writer))
    try:
        outcomes = write.submit([Incoming(raw, Direct()) for _, _, raw in story()[:3]])
    finally:
        write.close()
    assert all(o.position for o in outcomes), outcomes
    sealer_settings = _as(initialised, roles.SEALER)
    sealer = Sealer(
        sealer_settings.database_url,
        signer_from_settings(sealer_settings),
        discloser_from_settings(sealer_settings),
    )
    sealer.seal()
    sealer.close()

    assert main(["verify", "--audit"]) == 0, capsys.readouterr().err


def test_an_administrators_command_acts_as_the_owner_where_init_made_no_roles(
    settings: Settings,
) -> None:
    # No `ledger init`: no role exists to act as.
    assert roles.as_role(settings, roles.PROJECTOR) is settings
    assert roles.as_role(dataclasses.replace(settings, database_roles="off"), "api") is not None


def test_a_rebuild_swaps_in_a_view_the_projector_owns_and_the_api_reads(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["projections", "rebuild", "timeline"]) == 0, capsys.readouterr().err

    with psycopg.connect(initialised.database_url) as conn:
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'timeline'"
        ).fetchall()
    assert owners == [(roles.role_name(initialised.database_url, roles.PROJECTOR),)]
    assert attempt(roles.role_url(initialised, roles.API), READ_TIMELINE) is None
    assert attempt(roles.role_url(initialised, roles.PROJECTOR), WRITE_TIMELINE) is None


def test_database_url_prints_each_roles_url(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import ROLE_NAMES

    assert ROLE_NAMES == roles.ROLES
    capsys.readouterr()
    assert main(["database-url", "sealer"]) == 0
    url = capsys.readouterr().out.strip()

    assert url == roles.role_url(initialised, roles.SEALER)
    assert attempt(url, INSERT_HEAD) is None and attempt(url, INSERT_EVENT) is not None
