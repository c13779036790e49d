"""`ledger run` (what `make run` starts), driven as a user would, through real processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from infra.ports import free_port
from tests.support.folders import server_dir

pytestmark = pytest.mark.e2e

READY_LINE = "Press Ctrl-C to stop everything."


@dataclass
class Running:
    proc: subprocess.Popen[str]
    env: dict[str, str]
    api: str
    lines: list[str]

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)


def start_ledger(home: Path, **settings: str) -> Running:
    """``ledger run`` in ``home``, on free ports; ``settings``: more LEDGER_* variables."""
    env = {
        **os.environ,
        **settings,
        "LEDGER_HOME": str(home),
        "LEDGER_EMBEDDED_PG_PORT": str(free_port()),
        "LEDGER_EMBEDDED_KAFKA_PORT": str(free_port()),
        "LEDGER_API_PORT": str(free_port()),
        "LEDGER_PARTITIONS": "3",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if READY_LINE in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(180):
        proc.kill()
        raise AssertionError("ledger run did not become ready:\n" + "".join(lines[-40:]))
    return Running(proc, env, f"http://127.0.0.1:{env['LEDGER_API_PORT']}", lines)


def stop_ledger(running: Running) -> None:
    if running.proc.poll() is None:
        for child in running.descendants():
            child.kill()
        running.proc.kill()
        running.proc.wait()


def gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still alive (not zombies) after waiting up to ``timeout`` s."""

    def running(process: psutil.Process) -> bool:
        try:
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + timeout
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if running(p)]
        time.sleep(0.2)
    return alive


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with server_dir("ledger-home-") as home:
        running = start_ledger(home)
        yield running
        stop_ledger(running)


def demo_token(running: Running, name: str) -> str:
    """A ready-made token the demo printed (``export NAME_TOKEN=...``)."""
    prefix = f"export {name}_TOKEN="
    line = next(line for line in running.lines if line.strip().startswith(prefix))
    return line.strip().removeprefix(prefix)


def get_json(url: str, token: str | None = None) -> dict:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def ledger_cli(running: Running, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=running.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_demo_accesses_travel_through_kafka_to_the_citizens_timeline(running: Running) -> None:
    body = get_json(
        f"{running.api}/v1/citizens/nhs-number:9434765919/timeline", demo_token(running, "ALEX")
    )

    summaries = [e["summary"] for e in body["entries"]]
    assert len(summaries) == 5  # three looks at Alex's data and two consents
    assert summaries[0].startswith(
        "The Department for Work and Pensions looked at your benefit claim on "
    )
    assert any(s.startswith("NHS England looked at your health summary") for s in summaries)
    assert any("you gave consent to NHS England for research" in s for s in summaries)
    assert "Alex's timeline:  curl " in "".join(running.lines)


def test_the_api_refuses_a_request_without_a_token(running: Running) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        get_json(f"{running.api}/v1/citizens/nhs-number:9434765919/timeline")
    assert refused.value.code == 401
    sam = demo_token(running, "SAM")
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        get_json(f"{running.api}/v1/citizens/nhs-number:9434765919/timeline", sam)
    assert forbidden.value.code == 403


def test_the_forged_demo_event_is_stored_and_dead_lettered_with_its_reason(
    running: Running,
) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{running.env['LEDGER_EMBEDDED_PG_PORT']}/postgres"
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT reason, channel FROM ledger_refusals").fetchall()
    assert rows == [("bad-signature", "kafka")]

    consumer = KafkaConsumer(
        bootstrap_servers=f"127.0.0.1:{running.env['LEDGER_EMBEDDED_KAFKA_PORT']}",
        enable_auto_commit=False,
    )
    partitions = [TopicPartition("ledger.rejected", p) for p in range(3)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records = [r for _ in range(10) for rs in consumer.poll(500).values() for r in rs]
    consumer.close()
    assert [dict(r.headers)["ledger-reason"] for r in records] == [b"bad-signature"]


def test_doctor_reports_every_part_healthy(running: Running) -> None:
    result = ledger_cli(running, "doctor")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "postgresql  ok" in result.stdout and "kafka       ok" in result.stdout
    assert "secret      ok   dev secret in " in result.stdout
    for stage in ("ingest", "sealer", "outbox publisher", "views"):
        assert f"pipeline    ok   {stage}" in result.stdout
    ready = get_json(f"{running.api}/readyz")
    assert ready["status"] == "ok"
    assert {c["part"].split("@")[0] for c in ready["checks"]} >= {"ingest", "publish", "seal"}


def test_ctrl_c_stops_every_process_it_started(running: Running) -> None:
    started = running.descendants()
    names = set()
    for process in started:
        with contextlib.suppress(psutil.NoSuchProcess):  # a PostgreSQL backend, gone
            names.add(process.name())
    assert {"postgres", "python"} <= {n.split("-")[0].rstrip("0123456789.") for n in names}
    assert any("tansu" in n for n in names)

    os.killpg(running.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does

    assert running.proc.wait(timeout=60) == 0
    assert gone(started, timeout=15) == []
    unhealthy = ledger_cli(running, "doctor")
    assert unhealthy.returncode == 1
    assert "FAIL" in unhealthy.stdout


def test_a_killed_supervisor_leaves_no_orphans() -> None:
    with server_dir("ledger-home-") as home:
        running = start_ledger(home)
        started = running.descendants()
        try:
            running.proc.kill()  # SIGKILL: no chance to clean up
            running.proc.wait()
            assert gone(started, timeout=20) == []
        finally:
            stop_ledger(running)


def test_a_second_run_on_the_same_home_records_what_is_sent_to_it() -> None:
    """The embedded broker forgets its topics between runs; the ledger does not forget
    their old offsets: the second run must still take every new record."""
    from ledger_emitter import KafkaTransport

    from ledger.catalogue import DATA_ACCESSED
    from tests.support.acknowledged import demo_emitter
    from tests.support.ledger import access_data

    with server_dir("ledger-home-") as home:
        first = start_ledger(home)
        os.killpg(first.proc.pid, signal.SIGINT)  # Ctrl-C
        assert first.proc.wait(timeout=60) == 0

        again = start_ledger(home)  # `make run` again: the demo runs again
        try:
            assert any("Demo data loaded" in line for line in again.lines)
            emitter = demo_emitter(home)
            emitter.transport = KafkaTransport(
                f"127.0.0.1:{again.env['LEDGER_EMBEDDED_KAFKA_PORT']}", "ledger.submissions"
            )
            timeline = f"{again.api}/v1/citizens/nhs-number:9434765919/timeline"
            before = len(get_json(timeline, demo_token(again, "ALEX"))["entries"])
            sent = time.monotonic()
            emitter.emit(DATA_ACCESSED, access_data("9434765919"), event_id="after-the-second-run")
            emitter.transport.flush()
            while len(get_json(timeline, demo_token(again, "ALEX"))["entries"]) == before:
                assert time.monotonic() - sent < 2.0, "not in the timeline within 2 s"
                time.sleep(0.05)
            assert ledger_cli(again, "doctor").returncode == 0
        finally:
            stop_ledger(again)
