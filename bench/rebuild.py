"""Projection benchmark: how fast the batched runner builds a view (the citizen
timeline unless ``--view`` names another).

Runs on its own embedded PostgreSQL (or LEDGER_DATABASE_URL). It fills a fresh ledger
with data-accessed events, then measures and prints:

1. the view catching up from nothing (one transaction per batch): events/s, and CPU per
   event of this process (reading, decoding and applying) and of the PostgreSQL backend
   that writes the view (from /proc, which a busy machine disturbs less than rates);
2. ``ledger projections rebuild VIEW`` (shadow schema, then swap): events/s;
3. latency from a ledger commit to the event being visible in the view, with the
   runner following the log (LISTEN/NOTIFY): median and p99.

    python bench/rebuild.py --events 100000
    python bench/rebuild.py --events 100000 --view statistics [--people 100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import process_times, report_quiet  # noqa: E402
from bench.servers import database_url, scratch_home  # noqa: E402
from ledger.application import Ledger  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from projections.rebuild import rebuild  # noqa: E402
from projections.runner import BATCH, LogReader, ViewRunner  # noqa: E402
from projections.view import tracked_position  # noqa: E402
from projections.views import VIEWS  # noqa: E402
from tests.support.views import access, running_projections, save_all  # noqa: E402


def fresh_database(dsn: str, home: Path) -> Settings:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return Settings(home=home, database_url=dsn.rsplit("/", 1)[0] + "/" + name, secret="5a" * 32)


def fill(settings: Settings, events: int, people: int = 5_000) -> int:
    ledger = Ledger.from_settings(settings)
    try:
        started = time.perf_counter()
        last = save_all(ledger, [access(f"subject-{i % people:05d}") for i in range(events)])
        print(f"ledger filled:       {events:>9,} events in {time.perf_counter() - started:.1f} s")
        return last
    finally:
        ledger.close()


def cpu_seconds(pid: int) -> float:
    return next((p.seconds for p in process_times() if p.pid == pid), 0.0)


def catch_up(settings: Settings, view: str, batch: int) -> tuple[float, float, float]:
    """Events/s, and CPU seconds an event of this process and of the view's backend."""
    projection = VIEWS[view](f"{view}_bench")
    ledger = Ledger.from_settings(settings)
    with psycopg.connect(settings.database_url) as conn:
        projection.create(conn)
        runner = ViewRunner(projection, LogReader(ledger), conn, batch=batch)
        backend = conn.info.backend_pid
        mine, theirs = time.process_time(), cpu_seconds(backend)
        started = time.perf_counter()
        moved = runner.catch_up()
        seconds = time.perf_counter() - started
        mine, theirs = time.process_time() - mine, cpu_seconds(backend) - theirs
    ledger.close()
    return moved / seconds, mine / moved, theirs / moved


def latency(settings: Settings, view: str, samples: int) -> list[float]:
    ledger = Ledger.from_settings(settings)
    found: list[float] = []
    try:
        with (
            running_projections(settings),
            psycopg.connect(settings.database_url, autocommit=True) as conn,
        ):
            time.sleep(2)  # the runner starts and catches up
            for _ in range(samples):
                started = time.perf_counter()
                position = save_all(ledger, [access("subject-latency")])
                while tracked_position(conn.cursor(), view) < position:
                    time.sleep(0.001)
                found.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)
    finally:
        ledger.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--view", choices=sorted(VIEWS), default="timeline")
    parser.add_argument("--people", type=int, default=5_000, help="citizens the events name")
    args = parser.parse_args()
    servers = ExitStack()
    home = scratch_home(servers)
    dsn = servers.enter_context(database_url(home))
    try:
        report_quiet()
        settings = fresh_database(dsn, home)
        fill(settings, args.events, args.people)
        view = args.view
        rate, mine, theirs = catch_up(settings, view, args.batch)
        label = f"{view} catch-up:"
        print(f"{label:<20} {rate:>9,.0f} events/s  ({args.batch} events per transaction)")
        print(
            f"{'':<20} CPU an event: {mine * 1e6:.1f} us here (read, decode, apply), "
            f"{theirs * 1e6:.1f} us in the view's PostgreSQL backend"
        )
        rebuilt = rebuild(settings, view)
        label = f"{view} rebuild:"
        print(
            f"{label:<20} {rebuilt.rate:>9,.0f} events/s  ({rebuilt.position:,} events, "
            f"{rebuilt.seconds:.1f} s, shadow schema then swap)"
        )
        found = sorted(latency(settings, view, args.samples))
        p99 = found[min(len(found) - 1, int(len(found) * 0.99))]
        print(
            f"commit -> visible:   median {statistics.median(found):.1f} ms, p99 {p99:.1f} ms "
            f"({len(found)} samples)"
        )
    finally:
        servers.close()


if __name__ == "__main__":
    main()
