"""Session-scoped real infrastructure: an embedded PostgreSQL and broker started by the
test session itself. Unit tests never touch them; integration tests get a fresh
database and fresh topic names each, so tests cannot see each other's data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from infra.broker import EmbeddedBroker
from infra.postgres import EmbeddedPostgres
from infra.topics import ensure_topics
from ledger.application import Ledger
from ledger.settings import Settings
from tests.support.folders import server_dir

TEST_SECRET = "0f" * 32


@pytest.fixture(scope="session")
def postgres_instance() -> Iterator[EmbeddedPostgres]:
    """The session's PostgreSQL server itself, for tests that stop and restart it."""
    with server_dir("ledger-tests-pg-") as folder:
        server = EmbeddedPostgres(folder / "pgdata")
        server.start()
        yield server
        server.stop()


@pytest.fixture(scope="session")
def postgres_server(postgres_instance: EmbeddedPostgres) -> str:
    return postgres_instance.dsn


@pytest.fixture(scope="session")
def broker_server() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def database_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = conninfo_to_dict(postgres_server)
    info["dbname"] = name
    yield make_conninfo(**info)  # type: ignore[arg-type]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def settings(database_url: str, broker_server: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings for one test: its own database, topics and consumer group."""
    suffix = uuid.uuid4().hex[:8]
    result = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        kafka_bootstrap=broker_server.bootstrap_servers,
        topic_submissions=f"submissions.{suffix}",
        topic_rejected=f"rejected.{suffix}",
        topic_events=f"events.{suffix}",
        partitions=3,
        ingest_group=f"ingest.{suffix}",
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        secret=TEST_SECRET,
    )
    ensure_topics(result.kafka_bootstrap, result.topic_partitions)
    return result


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    """The ledger application on the test's database (modules may override it)."""
    ledger = Ledger.from_settings(settings)
    yield ledger
    ledger.close()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings put in the environment, where the ``ledger`` CLI reads them."""
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    return settings
