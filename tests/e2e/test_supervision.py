"""`ledger run` keeps its servers running: a killed PostgreSQL or broker comes back, the
children ride it out or are restarted with it, and nothing acknowledged is lost or
doubled; a part that keeps failing ends the run, named, with exit code 1."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from tests.e2e.test_ledger_run import (
    Running,
    demo_token,
    get_json,
    gone,
    ledger_cli,
    start_ledger,
    stop_ledger,
)
from tests.support.acknowledged import DEMO_SOURCE, AcknowledgedStream, demo_emitter
from tests.support.folders import server_dir
from tests.support.ledger import wait_until

pytestmark = pytest.mark.e2e

CHILDREN = {"ingest", "publish", "project", "seal", "dispose", "api"}
ORDER_DOWN = ["api", "dispose", "seal", "project", "publish", "ingest"]


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with server_dir("ledger-e2e-home-") as home:
        running = start_ledger(home)
        yield running
        stop(running)


def stop(running: Running) -> None:
    """Ctrl-C, as a user would; kill what is left if that does not do it."""
    if running.proc.poll() is None:
        os.killpg(running.proc.pid, signal.SIGINT)
        try:
            running.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop_ledger(running)


def parts(running: Running) -> dict[str, int]:
    """The supervisor's children: each ``ledger`` command, ``postgres`` and ``tansu``."""
    found = {}
    for child in psutil.Process(running.proc.pid).children():
        try:
            name, command = child.name(), child.cmdline()
        except psutil.NoSuchProcess:
            continue
        key = command[-1] if command[-2:-1] == ["cli.main"] else name.split("-")[0]
        found[key] = child.pid
    return found


def kill_and_wait_for_a_new_one(running: Running, name: str) -> None:
    """SIGKILL a part; wait until the supervisor started another one, or ended."""
    killed = parts(running)[name]
    os.kill(killed, signal.SIGKILL)

    def replaced() -> bool:
        return running.proc.poll() is not None or parts(running).get(name, killed) != killed

    wait_until(replaced, 30, f"{name} started again")


def said_since(running: Running, mark: int, text: str) -> bool:
    return any(text in line for line in running.lines[mark:])


def stopped_in_order(running: Running) -> list[str]:
    """The parts the supervisor said it stopped, in the order it stopped them."""
    said = [line.split("ledger.supervisor: stopping ", 1) for line in running.lines]
    return [pieces[1].strip() for pieces in said if len(pieces) == 2]


def home(running: Running) -> Path:
    return Path(running.env["LEDGER_HOME"])


def stream(running: Running, prefix: str) -> AcknowledgedStream:
    bootstrap = f"127.0.0.1:{running.env['LEDGER_EMBEDDED_KAFKA_PORT']}"
    return AcknowledgedStream(demo_emitter(home(running)), bootstrap, "ledger.submissions", prefix)


def recorded(running: Running, prefix: str) -> tuple[list[str], int]:
    """Event ids of ``prefix`` in the ledger's submissions, and the ledger events they made."""
    dsn = f"postgresql://postgres@127.0.0.1:{running.env['LEDGER_EMBEDDED_PG_PORT']}/postgres"
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        ids = conn.execute(
            "SELECT event_id FROM ledger_submissions WHERE source = %s AND event_id LIKE %s",
            (DEMO_SOURCE, f"{prefix}%"),
        ).fetchall()
        row = conn.execute(
            "SELECT count(*) FROM ledger_events e JOIN ledger_submissions s "
            "USING (originator_id) WHERE s.source = %s AND s.event_id LIKE %s",
            (DEMO_SOURCE, f"{prefix}%"),
        ).fetchone()
    assert row is not None
    return [event_id for (event_id,) in ids], row[0]


def count_recorded(running: Running, prefix: str) -> int:
    try:
        return len(recorded(running, prefix)[0])
    except psycopg.OperationalError:
        return 0  # the server is restarting


def assert_recorded_once(running: Running, prefix: str, acknowledged: set[str]) -> None:
    wait_until(
        lambda: count_recorded(running, prefix) >= len(acknowledged),
        60,
        f"all {len(acknowledged)} acknowledged events in the ledger",
    )
    ids, events = recorded(running, prefix)
    assert acknowledged <= set(ids)
    assert len(ids) == len(set(ids)) == events  # one ledger event each, none twice


def serves_a_timeline(running: Running) -> bool:
    url = f"{running.api}/v1/citizens/nhs-number:9434765919/timeline"
    try:
        return bool(get_json(url, demo_token(running, "ALEX"))["entries"])
    except urllib.error.HTTPError:
        return False  # a pooled connection to the server that was killed fails once


def assert_log_audits_clean(running: Running) -> None:
    sealed = ledger_cli(running, "seal", "--once")
    assert sealed.returncode == 0, sealed.stderr
    audited = ledger_cli(running, "verify", "--audit")
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_a_killed_postgresql_comes_back_and_every_acknowledged_event_is_recorded_once(
    running: Running,
) -> None:
    before, mark = parts(running), len(running.lines)

    with stream(running, "pg-killed-") as events:
        wait_until(lambda: count_recorded(running, "pg-killed-") >= 100, 60, "events flowing")
        os.kill(before["postgres"], signal.SIGKILL)
        wait_until(lambda: said_since(running, mark, "PostgreSQL is back"), 60, "PostgreSQL")
        at_restart = len(events.acknowledged)
        wait_until(lambda: count_recorded(running, "pg-killed-") >= at_restart + 100, 60, "more")

    assert_recorded_once(running, "pg-killed-", events.acknowledged)
    assert said_since(running, mark, "PostgreSQL stopped (signal 9); restarting it")
    assert not psutil.pid_exists(before["postgres"])  # reaped, not left a zombie
    after = parts(running)
    assert after["postgres"] != before["postgres"]
    assert {name: after[name] for name in CHILDREN} == {name: before[name] for name in CHILDREN}
    wait_until(lambda: serves_a_timeline(running), 30, "the API serving from the new server")
    assert_log_audits_clean(running)


def test_a_killed_broker_comes_back_with_its_topics_and_the_kafka_children_restarted(
    running: Running,
) -> None:
    before, mark = parts(running), len(running.lines)

    os.kill(before["tansu"], signal.SIGKILL)
    wait_until(lambda: said_since(running, mark, "Kafka broker is back"), 60, "the broker")
    with stream(running, "broker-killed-") as events:
        wait_until(lambda: count_recorded(running, "broker-killed-") >= 100, 60, "events flowing")

    assert_recorded_once(running, "broker-killed-", events.acknowledged)
    assert said_since(running, mark, "Kafka broker stopped (signal 9); restarting it")
    after = parts(running)
    assert after["ingest"] != before["ingest"] and after["publish"] != before["publish"]
    assert [after[name] for name in ("project", "seal", "api")] == [
        before[name] for name in ("project", "seal", "api")
    ]


def test_a_postgresql_that_cannot_come_back_ends_the_run_naming_it() -> None:
    with server_dir("ledger-e2e-home-") as folder:
        running = start_ledger(folder)
        try:
            started = running.descendants()
            # Its files now name a version this server cannot run: it will not start again.
            (folder / "pgdata" / "PG_VERSION").write_text("99\n")
            os.kill(parts(running)["postgres"], signal.SIGKILL)

            assert running.proc.wait(timeout=60) == 1
            wait_until(lambda: said_since(running, 0, "Stopping everything."), 10, "the reason")
            output = "".join(running.lines)
            assert "PostgreSQL stopped (signal 9) and did not come back" in output
            assert "database files are incompatible with server" in output
            assert stopped_in_order(running) == [*ORDER_DOWN, "Kafka broker"]
            assert gone(started, timeout=15) == []
        finally:
            stop(running)


def test_a_child_that_keeps_dying_ends_the_run_naming_it() -> None:
    with server_dir("ledger-e2e-home-") as folder:
        running = start_ledger(folder)
        try:
            started = running.descendants()
            for _ in range(6):
                kill_and_wait_for_a_new_one(running, "seal")

            assert running.proc.wait(timeout=60) == 1
            wait_until(lambda: said_since(running, 0, "Stopping everything."), 10, "the reason")
            output = "".join(running.lines)
            assert "seal exited 6 times within 60 s (last signal 9)" in output
            assert f"last lines of {folder}/logs/seal.log" in output
            assert stopped_in_order(running) == [
                *(name for name in ORDER_DOWN if name != "seal"),  # the sealer is down already
                "Kafka broker",
                "PostgreSQL",
            ]
            assert gone(started, timeout=15) == []
        finally:
            stop(running)


def test_ctrl_c_after_the_restarts_stops_everything_in_order(running: Running) -> None:
    started, mark = running.descendants(), len(running.lines)

    os.killpg(running.proc.pid, signal.SIGINT)

    assert running.proc.wait(timeout=60) == 0
    down = [*ORDER_DOWN, "Kafka broker", "PostgreSQL"]
    assert stopped_in_order(running)[-len(down) :] == down
    assert said_since(running, mark, "stopping every process")
    assert gone(started, timeout=15) == []
