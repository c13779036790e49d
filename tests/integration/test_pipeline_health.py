"""A stuck pipeline is reported, never silent: each process says how it is (heartbeats),
and `ledger doctor` and `GET /readyz` say what is wrong, naming the part."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from fastapi.testclient import TestClient
from ledger_emitter import Emitter, KafkaTransport

from api.app import create_app
from cli.main import main
from cli.processes import serve_metrics
from cli.supervisor import prepare
from infra.ports import free_port
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.health import Health
from ledger.heartbeat import Heartbeat, PipelineReport
from ledger.settings import Settings
from projections.views import pipeline
from tests.support.ledger import access_data, register_dwp, running_worker, scalar, wait_until

pytestmark = pytest.mark.integration

ACCESSES = "SELECT count(*) FROM ledger_events WHERE topic LIKE '%%DataAccess.Recorded'"
REFUSE_EVERY_APPEND = """
CREATE FUNCTION refuse_every_append() RETURNS trigger LANGUAGE plpgsql
AS $$ BEGIN RAISE EXCEPTION 'appends are refused'; END $$;
CREATE TRIGGER refuse_every_append BEFORE INSERT ON ledger_events
FOR EACH STATEMENT EXECUTE FUNCTION refuse_every_append();
"""


@contextmanager
def beating(settings: Settings, health: Health) -> Iterator[None]:
    heartbeat = Heartbeat(settings.database_url, health).start()
    try:
        yield
    finally:
        heartbeat.stop()


def report(settings: Settings) -> PipelineReport:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        return pipeline(conn, settings)


def failing(settings: Settings) -> dict[str, str]:
    return {f.part: f.detail for f in report(settings).findings if not f.healthy}


def emit(emitter: Emitter, settings: Settings, count: int) -> None:
    emitter.transport = KafkaTransport(settings.kafka_bootstrap, settings.topic_submissions)
    for _ in range(count):
        emitter.emit(DATA_ACCESSED, access_data())
    emitter.transport.flush()


def test_a_worker_the_database_refuses_says_it_is_stuck_then_catches_up(
    settings: Settings,
) -> None:
    ledger = Ledger.from_settings(settings)
    emitter = register_dwp(ledger)
    ledger.close()
    emit(emitter, settings, 3)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        # Something in the database now refuses every append, whatever it carries.
        conn.execute(REFUSE_EVERY_APPEND)
    port = free_port()

    with running_worker(settings) as worker, beating(settings, worker.health):
        serve_metrics(
            worker.metrics.registry, Settings(metrics_host="127.0.0.1", metrics_port=port)
        )
        wait_until(lambda: worker.health.stuck_on is not None, 60, "the worker to say so")
        wait_until(
            lambda: any("stuck" in detail for detail in failing(settings).values()),
            10,
            "the report to name the stuck worker",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
            assert "ledger_ingest_stuck 1.0" in response.read().decode()

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER refuse_every_append ON ledger_events")
        wait_until(lambda: scalar(settings.database_url, ACCESSES) == 3, 60, "the catch-up")
        wait_until(lambda: worker.health.stuck_on is None, 10, "the worker to recover")

    # The database's fault was never taken for the events': nothing was refused.
    assert scalar(settings.database_url, "SELECT count(*) FROM ledger_refusals") == 0


def test_doctor_and_readyz_name_a_stage_with_work_waiting_and_no_process(
    settings: Settings, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(settings)
    ledger = Ledger.from_settings(settings)
    emitter = register_dwp(ledger)
    ledger.close()
    emit(emitter, settings, 2)
    with running_worker(settings) as worker, beating(settings, worker.health):
        wait_until(lambda: scalar(settings.database_url, ACCESSES) == 2, 30, "the events")
        wait_until(lambda: "ingest" not in failing(settings), 10, "the worker's heartbeat")

        assert main(["doctor"]) == 1
        printed = capsys.readouterr().out
        assert "FAIL sealer" in printed and "no process running" in printed
        assert "ok   ingest" in printed

        with TestClient(create_app(settings)) as api:
            ready = api.get("/readyz")
        assert ready.status_code == 503
        checks = {c["part"]: c for c in ready.json()["checks"]}
        assert checks["sealer"]["status"] == "failing"
        assert checks["ingest"]["status"] == "ok"


def test_a_process_no_longer_heard_from_is_reported(settings: Settings) -> None:
    health = Health("seal")
    heartbeat = Heartbeat(settings.database_url, health).start()
    wait_until(lambda: any(f.part == heartbeat.name for f in report(settings).findings), 10)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        # As if it had died 20 s ago without a word (SIGKILL).
        heartbeat._stop.set()
        heartbeat._thread.join()
        conn.execute("UPDATE ledger_processes SET beat_at = now() - interval '20 seconds'")
    assert "not heard from" in failing(settings)[heartbeat.name]
