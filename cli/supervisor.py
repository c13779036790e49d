"""``ledger run``: start every part, keep it running, and stop all of it on Ctrl-C.

Order up: PostgreSQL, broker, schema and topics, then the ingest worker, the projection
runner and the API as child processes. Order down is the reverse. Every child is armed
to die with the supervisor (PR_SET_PDEATHSIG), so even a SIGKILLed supervisor leaves
no orphans.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from infra._process import die_with_parent, stop_child
from infra.broker import EmbeddedBroker
from infra.postgres import EmbeddedPostgres
from infra.topics import ensure_topics, topic_ids
from ledger.settings import Settings

log = logging.getLogger("ledger.supervisor")

CHILDREN = ("ingest", "publish", "project", "seal", "api")
MAX_RESTARTS = 5


class Child:
    """One supervised process, restarted with back-off if it dies on its own."""

    def __init__(self, command: str, settings: Settings, logs: Path) -> None:
        self.command = command
        self.settings = settings
        self.env = {**os.environ, **settings.to_env()}
        self.log_path = logs / f"{command}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", self.command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,  # Ctrl-C reaches the supervisor only; it stops us in order
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        log.info("started %s (pid %d), log %s", self.command, self.proc.pid, self.log_path)

    def check(self) -> bool:
        """Restart if it died; False once it has died too often."""
        if self.proc is None or self.proc.poll() is None:
            return True
        if self.restarts >= MAX_RESTARTS:
            log.error("%s keeps failing; see %s", self.command, self.log_path)
            return False
        self.restarts += 1
        log.warning("%s exited with %s; restarting", self.command, self.proc.returncode)
        time.sleep(min(2**self.restarts * 0.25, 5))
        self.start()
        return True

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc, signal.SIGTERM, timeout=15)


def _with_metrics_port(settings: Settings, index: int) -> Settings:
    """Each child its own /metrics port, counting up from LEDGER_METRICS_PORT (0: off)."""
    port = settings.metrics_port + index if settings.metrics_port else 0
    return dataclasses.replace(settings, metrics_port=port)


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def prepare(settings: Settings) -> None:
    """Create the ledger's tables, the views' tables and the topics (idempotent), and
    name the submissions topic's incarnation."""
    from ledger import database_keys
    from ledger.writing import WritePath
    from projections.runner import prepare_views

    database_keys.record(settings)  # refuses a database initialised with other keys
    topic = settings.topic_submissions
    created = ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
    write_path = WritePath.from_settings(settings)
    try:
        if topic in created:
            # The embedded broker's topics vanish on every restart: on a broker without
            # topic ids, the new topic's offsets must not be taken for the old one's.
            write_path.topic_created(topic)
        incarnation = write_path.incarnation(
            topic, topic_ids(settings.kafka_bootstrap, [topic]).get(topic)
        )
        moved = write_path.adopt_legacy_positions(
            topic, incarnation, settings.partitions, created=topic in created
        )
        if moved:
            log.warning(
                "%d positions of %s tracked before topic incarnations were %s",
                moved,
                topic,
                "forgotten (the topic is new)" if topic in created else f"kept as {incarnation}",
            )
        log.info("%s is incarnation %s", topic, incarnation)
    finally:
        write_path.close()
    prepare_views(settings)


def supervise(settings: Settings, *, demo: bool, stop: threading.Event) -> int:
    settings.home.mkdir(parents=True, exist_ok=True)
    logs = settings.home / "logs"
    logs.mkdir(exist_ok=True)
    with ExitStack() as stack:
        if not settings.database_url:
            pg = EmbeddedPostgres(settings.home / "pgdata", port=settings.embedded_pg_port)
            stack.callback(pg.stop)
            log.info("starting embedded PostgreSQL")
            settings = dataclasses.replace(settings, database_url=pg.start())
        if not settings.kafka_bootstrap:
            broker = EmbeddedBroker(port=settings.embedded_kafka_port, log_path=logs / "broker.log")
            stack.callback(broker.stop)
            log.info("starting embedded broker")
            settings = dataclasses.replace(settings, kafka_bootstrap=broker.start())
        prepare(settings)
        children = [
            Child(command, _with_metrics_port(settings, index), logs)
            for index, command in enumerate(CHILDREN)
        ]
        for child in reversed(children):  # stop the API first, the ingest worker last
            stack.callback(child.stop)
        for child in children:
            child.start()
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        wait_http(api_url + "/healthz", timeout=60)
        if demo and not stop.is_set():
            from cli.demo import load_demo

            load_demo(settings, api_url)
        print(f"\nThe ledger is running. API: {api_url}/docs  Logs: {logs}/", flush=True)
        if settings.metrics_port:
            ports = ", ".join(
                f"{child.command} :{child.settings.metrics_port}"
                for child in children
                if child.command in ("ingest", "publish")
            )
            print(f"Metrics (Prometheus, http://{settings.metrics_host}:PORT/metrics): {ports}")
        print("Press Ctrl-C to stop everything.", flush=True)
        while not stop.wait(0.5):
            if not all(child.check() for child in children):
                return 1
        log.info("stopping every process")
    return 0
