"""The servers a benchmark runs against: the configured ones, or embedded ones for the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from infra.broker import EmbeddedBroker
from infra.postgres import EmbeddedPostgres
from ledger.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def database_url(home: Path) -> Iterator[str]:
    """``LEDGER_DATABASE_URL``, or an embedded PostgreSQL under ``home`` for the run."""
    if url := os.environ.get("LEDGER_DATABASE_URL"):
        yield url
        return
    server = EmbeddedPostgres(home / "pgdata")
    try:
        yield server.start()
    finally:
        server.stop()


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """``LEDGER_KAFKA_BOOTSTRAP``, or an embedded broker for the run."""
    if bootstrap := os.environ.get("LEDGER_KAFKA_BOOTSTRAP"):
        yield bootstrap
        return
    broker = EmbeddedBroker()
    try:
        yield broker.start()
    finally:
        broker.stop()


def scratch_home(servers: ExitStack, keep: bool = False) -> Path:
    """A directory for one bench run (the embedded servers' data, the processes' logs),
    removed when ``servers`` closes after a run that succeeded or was interrupted
    (Ctrl-C) unless ``keep``; kept, and named, after one that failed, for its logs.
    Enter it first, so the servers stop before it goes."""
    home = Path(tempfile.mkdtemp(prefix="ledger-bench-"))

    def remove_unless_failing() -> None:
        failure = sys.exc_info()[0]
        if (failure is None or issubclass(failure, KeyboardInterrupt)) and not keep:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"the run's data and logs are kept in {home}", file=sys.stderr)

    servers.callback(remove_unless_failing)
    return home


@contextmanager
def api_process(settings: Settings) -> Iterator[str]:
    """One `ledger api` process (one uvicorn worker) on ``settings``: its base URL, once
    it answers; stopped on the way out."""
    from cli.supervisor import wait_http

    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    api = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{settings.api_port}"
        wait_http(url + "/healthz", timeout=60)
        yield url
    finally:
        api.terminate()
        api.wait(timeout=20)
