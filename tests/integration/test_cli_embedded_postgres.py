"""With no ``LEDGER_DATABASE_URL``, every command uses the embedded PostgreSQL on
``LEDGER_EMBEDDED_PG_PORT``, as ``ledger postgres`` starts it, not a server on 5432."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from cli.main import main
from infra.ports import free_port
from infra.postgres import EmbeddedPostgres
from ledger.catalogue import DATA_ACCESSED
from tests.conftest import TEST_SECRET
from tests.support.folders import server_dir
from tests.support.ledger import scalar

pytestmark = pytest.mark.integration

SOURCE = "urn:ledger:service:dwp:embedded-test"


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedPostgres]:
    """What `ledger postgres` runs: the embedded server on its port, data in the home."""
    with server_dir("ledger-tests-home-") as home:
        server = EmbeddedPostgres(home / "pgdata", port=free_port())
        server.start()
        yield server
        server.stop()


@pytest.fixture
def env_without_url(
    embedded: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The environment of a shell that set only the embedded port; the server's DSN."""
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    monkeypatch.setenv("LEDGER_EMBEDDED_PG_PORT", str(conninfo_to_dict(embedded.dsn)["port"]))
    monkeypatch.setenv("LEDGER_SECRET", TEST_SECRET)
    monkeypatch.setenv("LEDGER_HOME", str(tmp_path / "home"))
    return embedded.dsn


def test_services_register_reaches_the_embedded_postgres(
    env_without_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "services",
            "register",
            SOURCE,
            "--organisation",
            "DWP",
            "--organisation-name",
            "the Department for Work and Pensions",
            "--name",
            "Embedded test system",
            "--types",
            DATA_ACCESSED,
        ]
    )

    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["source"] == SOURCE
    assert scalar(env_without_url, "SELECT count(*) FROM ledger_events") >= 2


def test_projections_rebuild_reaches_the_embedded_postgres(
    env_without_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["projections", "rebuild", "timeline"])

    assert code == 0, capsys.readouterr().err
    assert "timeline: rebuilt to ledger position" in capsys.readouterr().out
    assert scalar(env_without_url, "SELECT to_regclass('timeline.entries') IS NOT NULL")
