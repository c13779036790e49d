"""Integration tests for infra/: real PostgreSQL and a real Tansu broker, no mocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from infra import (
    EmbeddedBroker,
    EmbeddedPostgres,
    PartitionCountMismatch,
    check_broker,
    check_postgres,
    ensure_topics,
    free_port,
    redact_dsn,
)
from tests.support.folders import server_dir

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg() -> Iterator[EmbeddedPostgres]:
    with server_dir("ledger-infra-pg-") as folder:
        server = EmbeddedPostgres(folder / "data")
        server.start()
        yield server
        server.stop()


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """A folder for a PostgreSQL data directory, outside pytest's private temp root."""
    with server_dir("ledger-infra-pg-") as folder:
        yield folder


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    server = EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "broker.log")
    server.start()
    yield server
    server.stop()


def _topic() -> str:
    return f"infra-test-{uuid.uuid4().hex[:10]}"


def _tree(pid: int) -> list[psutil.Process]:
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def _assert_gone(procs: list[psutil.Process], within: float = 10.0) -> None:
    _, alive = psutil.wait_procs(procs, timeout=within)
    assert not alive, f"still running: {alive}"


def test_postgres_answers_queries(pg: EmbeddedPostgres) -> None:
    assert pg.dsn.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(pg.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SHOW max_connections").fetchone() == ("200",)
    assert pg.log_path.exists()


def test_postgres_keeps_data_between_runs_and_stop_kills_everything(
    pg: EmbeddedPostgres,
) -> None:
    with psycopg.connect(pg.dsn) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('survives')")
    assert pg.pid is not None
    procs = _tree(pg.pid)
    assert len(procs) > 1  # postmaster plus its background workers
    dsn = pg.dsn
    pg.stop()
    pg.stop()  # idempotent
    assert pg.pid is None
    _assert_gone(procs, within=0)
    assert pg.start() == dsn  # same port again
    with psycopg.connect(pg.dsn) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("survives",)]


def test_stale_postmaster_is_replaced(pg_dir: Path) -> None:
    data_dir = pg_dir / "data"
    earlier = EmbeddedPostgres(data_dir)
    earlier.start()
    assert earlier.pid is not None
    stale = _tree(earlier.pid)
    # A second supervisor on the same data dir, as after a crash of the first one.
    fresh = EmbeddedPostgres(data_dir)
    try:
        fresh.start()
        _assert_gone(stale, within=0)
        assert fresh.pid not in (None, earlier.pid)
        with psycopg.connect(fresh.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        fresh.stop()
        earlier.stop()


def _running(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie only waits to be reaped."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _start_busy_query(dsn: str) -> psycopg.Connection[Any]:
    """A connection whose backend computes for minutes without waiting on anything."""
    busy = psycopg.connect(dsn, autocommit=True)
    busy.pgconn.send_query(b"SELECT count(*) FROM generate_series(1, 10000000000)")
    with psycopg.connect(dsn, autocommit=True) as conn:

        def active() -> bool:
            row = conn.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", (busy.info.backend_pid,)
            ).fetchone()
            return row == ("active",)

        _wait_for(active, "the busy query to start")
    return busy


def test_a_killed_postgres_comes_back_on_its_port_though_a_busy_backend_outlived_it(
    pg_dir: Path,
) -> None:
    server = EmbeddedPostgres(pg_dir / "data")
    dsn = server.start()
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('survives')")
    busy = _start_busy_query(dsn)
    backend = busy.info.backend_pid
    postmaster = server.pid
    assert postmaster is not None
    try:
        os.kill(postmaster, signal.SIGKILL)
        _wait_for(lambda: not _running(postmaster), "the postmaster to die")
        assert _running(backend)  # busy: it has not noticed yet

        assert server.start() == dsn
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("survives",)]
        assert not psutil.pid_exists(postmaster)  # reaped, not left a zombie
        assert not _running(backend)
    finally:
        busy.close()
        server.stop()


def test_a_zombie_postmasters_lock_files_do_not_block_a_new_server(pg_dir: Path) -> None:
    port = free_port()
    # An owner that never reaps its server, as a supervisor that does not watch it.
    script = (
        "import time\nfrom pathlib import Path\nfrom infra import EmbeddedPostgres\n"
        f"s = EmbeddedPostgres(Path({str(pg_dir / 'data')!r}), port={port})\n"
        "s.start()\nprint(s.pid, flush=True)\ntime.sleep(120)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    fresh = EmbeddedPostgres(pg_dir / "data", port=port)
    try:
        assert owner.stdout is not None
        postmaster = psutil.Process(int(owner.stdout.readline()))
        postmaster.kill()
        # Its pid stays taken, and its lock files name it.
        _wait_for(lambda: postmaster.status() == psutil.STATUS_ZOMBIE, "a zombie postmaster")

        started = time.monotonic()
        fresh.start()

        assert time.monotonic() - started < 10  # no waiting for the zombie to stop
        with psycopg.connect(fresh.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        fresh.stop()
        owner.kill()
        owner.wait()


@pytest.mark.parametrize("kind", ["postgres", "broker"])
def test_a_server_killed_says_how_it_stopped(kind: str, pg_dir: Path) -> None:
    server = EmbeddedPostgres(pg_dir / "data") if kind == "postgres" else EmbeddedBroker()
    server.start()
    assert server.returncode is None
    assert server.pid is not None
    pid = server.pid
    try:
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: server.returncode is not None, "the server to stop")
        assert server.returncode == -signal.SIGKILL
        assert not psutil.pid_exists(pid)  # asking reaped it
    finally:
        server.stop()
    assert server.returncode is None  # stopped on purpose


@pytest.mark.parametrize("kind", ["postgres", "broker"])
def test_server_dies_with_its_parent(kind: str, pg_dir: Path) -> None:
    server = (
        f"EmbeddedPostgres(Path({str(pg_dir / 'data')!r}))"
        if kind == "postgres"
        else "EmbeddedBroker()"
    )
    script = (
        "import sys, time\nfrom pathlib import Path\n"
        "from infra import EmbeddedBroker, EmbeddedPostgres\n"
        f"s = {server}\ns.start()\nprint(s.pid, flush=True)\ntime.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        procs = _tree(pid)
    finally:
        parent.kill()
        parent.wait()
    _assert_gone(procs)


def test_ensure_topics_creates_and_is_idempotent(broker: EmbeddedBroker) -> None:
    wanted = {_topic(): 3, _topic(): 1}
    ensure_topics(broker.bootstrap_servers, wanted)
    ensure_topics(broker.bootstrap_servers, wanted)
    assert check_broker(broker.bootstrap_servers, wanted).healthy
    # A second call adding a topic only creates the new one.
    more = {**wanted, _topic(): 2}
    ensure_topics(broker.bootstrap_servers, more)
    assert check_broker(broker.bootstrap_servers, more).healthy


def test_ensure_topics_rejects_other_partition_count(broker: EmbeddedBroker) -> None:
    name = _topic()
    ensure_topics(broker.bootstrap_servers, {name: 2})
    with pytest.raises(PartitionCountMismatch, match=rf"{name}.*2 partitions.*5"):
        ensure_topics(broker.bootstrap_servers, {name: 5})
    health = check_broker(broker.bootstrap_servers, {name: 5})
    assert not health.healthy
    assert "has 2 partitions, expected 5" in health.detail


def test_produce_consume_round_trip(broker: EmbeddedBroker) -> None:
    name = _topic()
    ensure_topics(broker.bootstrap_servers, {name: 2})
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    try:
        producer.send(name, key=b"k", value=b"hello", partition=1).get(timeout=10)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(name, 1)])
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + 10
        while not records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    assert [(r.key, r.value) for r in records] == [(b"k", b"hello")]


def test_broker_restart_and_stop(tmp_path: Path) -> None:
    server = EmbeddedBroker(log_path=tmp_path / "broker.log")
    bootstrap = server.start()
    name = _topic()
    ensure_topics(bootstrap, {name: 1})
    server.restart()
    assert server.bootstrap_servers == bootstrap
    # Memory storage: topics are gone after a restart.
    assert not check_broker(bootstrap, {name: 1}).healthy
    assert check_broker(bootstrap).healthy
    assert server.pid is not None
    procs = _tree(server.pid)
    server.stop()
    server.stop()
    assert server.pid is None
    _assert_gone(procs, within=0)
    assert "tansu" in (tmp_path / "broker.log").read_text()


def test_health_of_running_servers(pg: EmbeddedPostgres, broker: EmbeddedBroker) -> None:
    pg_health = check_postgres(pg.dsn)
    assert pg_health.healthy, pg_health
    assert pg_health.component == "postgresql"
    assert pg_health.detail.startswith("PostgreSQL 18.")
    kafka_health = check_broker(broker.bootstrap_servers)
    assert kafka_health.healthy, kafka_health
    assert (kafka_health.component, kafka_health.target) == ("kafka", broker.bootstrap_servers)


def test_health_of_closed_port_is_unhealthy_within_timeout() -> None:
    port = free_port()
    started = time.monotonic()
    pg_health = check_postgres(f"postgresql://postgres:secret@127.0.0.1:{port}/db", timeout=1)
    kafka_health = check_broker(f"127.0.0.1:{port}", timeout=1)
    assert time.monotonic() - started < 3
    assert not pg_health.healthy and not kafka_health.healthy
    assert "secret" not in pg_health.target
    assert "\n" not in pg_health.detail and "\n" not in kafka_health.detail


def test_redact_dsn() -> None:
    assert redact_dsn("postgresql://u:pw@h:5/db?password=x&sslmode=require") == (
        "postgresql://u@h:5/db?sslmode=require"
    )
    assert redact_dsn("host=h password='a b' user=u") == "host=h user=u"
    assert redact_dsn("postgresql://h/db") == "postgresql://h/db"


def test_stop_before_start_is_harmless(pg_dir: Path) -> None:
    EmbeddedPostgres(pg_dir / "never").stop()
    EmbeddedBroker().stop()
    with pytest.raises(RuntimeError):
        _ = EmbeddedBroker().bootstrap_servers
