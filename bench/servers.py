"""The servers a benchmark runs against: the configured ones, or embedded ones for the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.broker import EmbeddedBroker
from infra.postgres import EmbeddedPostgres


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
