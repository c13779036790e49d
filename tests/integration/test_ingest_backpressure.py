"""When PostgreSQL is slow, the worker stops fetching instead of buffering: the backlog
stays in Kafka, the worker's memory stays flat, and it catches up afterwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from tests.support.ledger import register_dwp, wait_until
from tests.support.stream import Workers, build_stream, produce, progress

pytestmark = pytest.mark.integration

STALL_SECONDS = 6


def test_a_stalled_database_holds_the_backlog_in_kafka_not_in_memory(
    settings: Settings, tmp_path: Path
) -> None:
    ledger = Ledger.from_settings(settings)
    stream = build_stream(register_dwp(ledger), valid=12_000, duplicates=0, invalid=0)
    ledger.close()
    workers = Workers(settings, tmp_path)
    worker = psutil.Process(workers.start().pid)
    try:
        produce(settings, stream.part(0, 200))
        wait_until(lambda: progress(settings) >= 200, 60, "the worker warmed up")
        rss_before = worker.memory_info().rss

        # Every append takes LOCK TABLE ... EXCLUSIVE: hold a stronger lock, as a stalled
        # or overloaded database would, while 11,800 more submissions arrive.
        stalled = threading.Event()
        release = threading.Event()

        def stall() -> None:
            with psycopg.connect(settings.database_url) as conn:
                conn.execute("LOCK TABLE ledger_events IN ACCESS EXCLUSIVE MODE")
                stalled.set()
                release.wait(60)

        blocker = threading.Thread(target=stall, daemon=True)
        blocker.start()
        assert stalled.wait(10)
        stuck_at = progress(settings)
        produce(settings, stream.part(200))
        peak = rss_before
        deadline = time.monotonic() + STALL_SECONDS
        while time.monotonic() < deadline:
            peak = max(peak, worker.memory_info().rss)
            time.sleep(0.2)
        assert progress(settings) <= stuck_at + 200  # at most the batch in hand
        release.set()
        blocker.join(10)

        wait_until(lambda: progress(settings) == len(stream.records), 120, "catching up")
    finally:
        workers.stop_all()

    growth_mb = (peak - rss_before) / 2**20
    assert growth_mb < 32, f"the worker grew by {growth_mb:.0f} MB while the database stalled"
