"""Ingest benchmark: Kafka -> verified, committed and projected, against raw baselines.

Runs on its own embedded PostgreSQL and broker (or LEDGER_DATABASE_URL /
LEDGER_KAFKA_BOOTSTRAP). In one run it measures:

1. raw Ed25519 verify rate of this machine (PyNaCl), in 1 process and in 2;
2. raw kafka-python consume rate of the same records (no group, no processing);
3. sustained end-to-end ingest with 1 and with 2 `ledger ingest` processes plus the
   projection runner: from the moment the consumer group has settled (every worker
   holds partitions: before that, the first worker to join works alone and then stops
   for a rebalance) until every event is committed, and until every event is in the
   citizen timeline;
4. end-to-end latency, produce -> visible in the timeline, at a fixed offered rate;

and prints the figures and their ratios, and where the CPU went: microseconds of CPU per
event used by the ingest workers, the projection runner, PostgreSQL and the broker
over the end-to-end run (from /proc, on Linux). Nothing here asserts a time.

    python bench/ingest.py --events 20000 --latency-rate 2000 --latency-seconds 10
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import nacl.signing
import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from ledger_emitter import canonical, partition_key

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import busy_seconds, process_times, report_quiet  # noqa: E402
from bench.servers import database_url, kafka_bootstrap, scratch_home  # noqa: E402
from infra.topics import ensure_topics  # noqa: E402
from ledger.positions import stream_name  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from tests.support.ledger import access_data, register_dwp_with  # noqa: E402
from tests.support.stream import nhs_numbers  # noqa: E402

DATA_ACCESSED = "uk.gov.ledger.data-accessed.v1"
PARTITIONS = 6
# Citizens named in the end-to-end runs, at least (one per event beyond that). Until
# 2026-11-25 the runs named 1,000 citizens, 60 events each: the partitions then held
# 8,820-10,440 of 60,000 events, one worker's three partitions 4.9% more than the
# other's, and that worker went on alone at the end of every run.
CITIZENS = 1000
SETTLE_SECONDS = 120  # longest wait for the consumer group to settle


# Baselines -----------------------------------------------------------------------------


def _verify_loop(seconds: float) -> int:
    key = nacl.signing.SigningKey.generate()
    message = os.urandom(600)
    signed = key.sign(message)
    verify = key.verify_key.verify
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            verify(signed)
        count += 200
    return count


def verify_rate(processes: int, seconds: float = 3.0) -> float:
    with multiprocessing.Pool(processes) as pool:
        counts = pool.map(_verify_loop, [seconds] * processes)
    return sum(counts) / seconds


def partition_sizes(bootstrap: str, topic: str, partitions: int) -> list[int]:
    """How many records each partition of ``topic`` holds."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return [end[tp] - begin[tp] for tp in tps]
    finally:
        consumer.close()


def consume_rate(bootstrap: str, topic: str, partitions: int, total: int) -> float:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    seen, started = 0, time.perf_counter()
    while seen < total:
        seen += sum(len(r) for r in consumer.poll(500, max_records=5000).values())
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


# The product ---------------------------------------------------------------------------


def produce(settings: Settings, events: list[bytes], keys: list[bytes]) -> float:
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5, batch_size=65536
    )
    started = time.perf_counter()
    for key, value in zip(keys, events, strict=True):
        producer.send(settings.topic_submissions, key=key, value=value)
    producer.flush(timeout=300)
    producer.close()
    return len(events) / (time.perf_counter() - started)


def spawn(command: str, settings: Settings, logs: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **settings.to_env(),
        "PYTHONPATH": str(ROOT),
        # Ingest workers log their partition assignments (see group_settled).
        "LEDGER_LOG_LEVEL": "INFO" if command == "ingest" else "WARNING",
    }
    log = logs / f"{command}-{uuid.uuid4().hex[:4]}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", command], env=env, stdout=out, stderr=out
        )
    LOGS[proc.pid] = log
    return proc


LOGS: dict[int, Path] = {}  # each spawned process's log file, by pid
OBSERVER = "bench (observer)"  # the bench's own process and database backend


def _assigned(log: Path) -> list[int] | None:
    """The partitions a worker holds, from its log: those of its last assignment, or
    None while it has none (not joined yet, or revoked for a rebalance)."""
    held: list[int] | None = None
    for line in log.read_text(errors="replace").splitlines():
        if "partitions revoked" in line:
            held = None
        elif "partitions assigned: [" in line:
            text = line.rsplit("[", 1)[1].rstrip("]")
            held = [int(p) for p in text.split(",") if p.strip()] or None
    return held


def group_settled(procs: list[subprocess.Popen[bytes]], partitions: int) -> bool:
    """Every worker holds partitions, and together they hold each partition once."""
    held = [_assigned(LOGS[p.pid]) for p in procs]
    if any(h is None for h in held):
        return False
    return sorted(p for h in held for p in h or ()) == list(range(partitions))


class Observer:
    """The bench's one connection to a run's database while it measures.

    A new connection costs PostgreSQL a new backend process (a fork, authentication,
    catalogue caches). Polling with a new connection each time, and counting the
    timeline's rows, kept ~0.19 of a core of a 2-core machine busy (measured alone),
    taken from the processes measured. This connection stays open, its queries read a
    few rows each, and its backend's CPU is reported apart from PostgreSQL's."""

    def __init__(self, dsn: str, topic: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.topic = topic
        self.backend = self._scalar("SELECT pg_backend_pid()")

    def _scalar(self, query: str, *params: object) -> int:
        row = self.conn.execute(query, params).fetchone()
        return int(row[0] or 0) if row else 0

    def committed(self) -> int:
        """Submissions durably consumed: tracked offsets + 1, over the partitions of the
        topic (in whichever incarnation: ``ledger.positions.stream_name``)."""
        return self._scalar(
            "SELECT coalesce(sum(notification_id + 1), 0) FROM ledger_tracking "
            "WHERE starts_with(application_name, %s)",
            stream_name(self.topic, "", 0).split("@")[0] + "@",
        )

    def last_position(self) -> int:
        """The ledger's last position (its notification id)."""
        return self._scalar("SELECT max(notification_id) FROM ledger_events")

    def timeline_position(self) -> int:
        """The last ledger position the timeline view has applied."""
        return self._scalar("SELECT notification_id FROM timeline.tracking")

    def timeline_rows(self) -> int:
        """Rows in the timeline (a count: once per run, not while polling)."""
        return self._scalar("SELECT count(*) FROM timeline.entries")

    def close(self) -> None:
        self.conn.close()


@dataclasses.dataclass
class Rates:
    committed: float  # Kafka -> verified and committed in the ledger, events/s
    projected: float  # ... and visible in the citizen timeline, events/s
    cpu: dict[str, float]  # CPU seconds per event, by part, over the measured window
    busy: float = 0.0  # share of the machine's cores busy over that window (any process)
    with_start: float = 0.0  # committed rate counted from the first commit instead
    longest_pause: float = 0.0  # seconds, the longest wait between two commits seen


def cpu_seconds(parts: dict[int, str]) -> dict[str, float]:
    """CPU seconds used so far by each part: our processes by pid, and PostgreSQL and
    the broker by process name (every backend counts). Linux /proc; {} elsewhere.

    PostgreSQL's figure includes the CPU of its processes that have exited (autovacuum
    workers, closed connections), which the server's first process collects as its
    children's time; a backend seen running earlier and gone now is counted once."""
    used: dict[str, float] = {}
    for process in process_times():
        part = parts.get(process.pid)
        if part is None and process.name == "postgres":
            part = "PostgreSQL"
        elif part is None and process.name.startswith("tansu"):
            part = "broker"
        if part is not None:
            seconds = process.seconds
            if part == "PostgreSQL":
                seconds += process.children
            used[part] = used.get(part, 0.0) + seconds
    return used


def end_to_end(settings: Settings, workers: int, total: int, logs: Path) -> Rates:
    """Sustained rates, once the consumer group has settled, until all events are
    committed, and until all are in the timeline (the projection runner runs alongside).

    Before the group settles the first worker to join works alone, then every worker
    stops for the rebalance: a start-up cost, not the rate the workers sustain."""
    procs = [spawn("ingest", settings, logs) for _ in range(workers)]
    procs.append(spawn("project", settings, logs))
    observer = Observer(settings.database_url, settings.topic_submissions)
    parts = (
        {p.pid: "ingest workers" for p in procs[:-1]}
        | {procs[-1].pid: "projection runner"}
        | {observer.backend: OBSERVER, os.getpid(): OBSERVER}
    )
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        first, at_first = 0.0, 0
        while not group_settled(procs[:-1], PARTITIONS):
            if not first and (at_first := observer.committed()):
                first = time.perf_counter()
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"the ingest workers did not settle; see the logs in {logs}")
            time.sleep(0.02)
        started = time.perf_counter()
        at_start, projected_at_start = observer.committed(), observer.timeline_rows()
        cpu_at_start, busy_at_start = cpu_seconds(parts), busy_seconds()
        if not first:
            first, at_first = started, at_start
        if at_start > total // 2:
            print(
                f"    (the group settled after {at_start:,} of {total:,} events: too few "
                "were left to measure a sustained rate; use more --events)"
            )
        if at_start >= total:
            raise SystemExit("every event was committed before the group settled")
        done_committing = done_projecting = 0.0
        last_position = 0  # the ledger's, once everything is committed
        last_report = started
        # The longest wait between two commits seen: a stall (a rebalance, the disk)
        # shows here, where the rate and the machine's use alone leave it a guess.
        seen, seen_at, pause = at_start, started, 0.0
        while not done_projecting:
            time.sleep(0.05)
            now = time.perf_counter()
            if not done_committing:
                if (committed := observer.committed()) > seen:
                    seen, seen_at = committed, now
                pause = max(pause, now - seen_at)
                if committed >= total:
                    done_committing = now
                    last_position = observer.last_position()
            if done_committing and observer.timeline_position() >= last_position:
                done_projecting = now
                cpu_used, busy = cpu_seconds(parts), busy_seconds() - busy_at_start
            if now - last_report > 5:
                print(
                    f"    ... {observer.committed():,} committed; timeline at position "
                    f"{observer.timeline_position():,}"
                )
                last_report = now
        if (rows := observer.timeline_rows()) < total:
            raise SystemExit(f"the timeline has {rows:,} rows for {total:,} events")
        events = total - at_start
        return Rates(
            committed=events / (done_committing - started),
            projected=(total - projected_at_start) / (done_projecting - started),
            cpu={k: (v - cpu_at_start.get(k, 0.0)) / events for k, v in cpu_used.items()},
            busy=busy / ((done_projecting - started) * (os.cpu_count() or 1)),
            with_start=(total - at_first) / (done_committing - first),
            longest_pause=pause,
        )
    finally:
        observer.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def latency(
    settings: Settings, emitter: object, rate: int, seconds: float, logs: Path, workers: int
) -> list[float]:
    """Produce at ``rate``/s; seconds from the event's time to its row in the timeline."""
    procs = [spawn("ingest", settings, logs) for _ in range(workers)]
    procs.append(spawn("project", settings, logs))
    samples: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        last = 0
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            while not stop.is_set() or last < rate * seconds:
                rows = conn.execute(
                    "SELECT position, occurred_at FROM timeline.entries WHERE position > %s",
                    (last,),
                ).fetchall()
                now = datetime.now(UTC)
                for position, occurred_at in rows:
                    samples.append((now - occurred_at).total_seconds())
                    last = max(last, position)
                if stop.is_set() and len(samples) >= rate * seconds:
                    return
                time.sleep(0.01)

    people = nhs_numbers(1000)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=1)
    try:
        time.sleep(8)  # let the workers join their group before the clock starts
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            due = started + i / rate
            if (pause := due - time.perf_counter()) > 0:
                time.sleep(pause)
            event = emitter.build(DATA_ACCESSED, access_data(people[i % 1000]))  # type: ignore[attr-defined]
            producer.send(
                settings.topic_submissions, key=partition_key(event), value=canonical(event)
            )
        producer.flush()
        stop.set()
        watcher.join(timeout=60)
    finally:
        producer.close()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    return samples


def drop_ledger(dsn: str, settings: Settings) -> None:
    """Drop a finished run's database: its autovacuum would otherwise run during the
    next run and be counted as that run's PostgreSQL time."""
    db = settings.database_url.rsplit("/", 1)[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')


def fresh_ledger(dsn: str, bootstrap: str, home: Path, name: str) -> Settings:
    """A new database and new topics for one run, prepared as ``ledger run`` would."""
    db = f"{name}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    settings = Settings(
        home=home / db,
        database_url=dsn.rsplit("/", 1)[0] + "/" + db,
        kafka_bootstrap=bootstrap,
        topic_submissions=f"bench.{db}",
        topic_rejected=f"bench.rej.{db}",
        topic_events=f"bench.ev.{db}",
        ingest_group=f"bench.{db}",
        partitions=PARTITIONS,
        secret="5a" * 32,
    )
    ensure_topics(bootstrap, settings.topic_partitions)
    from cli.supervisor import prepare

    prepare(settings)
    return settings


def report(workers: int, rates: Rates) -> None:
    print(
        f"{workers} worker(s): committed {rates.committed:10,.0f}/s, "
        f"projected {rates.projected:10,.0f}/s"
    )
    if abs(rates.with_start - rates.committed) > 0.01 * rates.committed:
        print(
            f"    committed, counted from the first commit (with the group's start-up): "
            f"{rates.with_start:,.0f}/s"
        )
    if rates.cpu:
        measured = {k: v for k, v in rates.cpu.items() if k != OBSERVER}
        shares = ", ".join(
            f"{part} {seconds * 1e6:.0f}"
            for part, seconds in sorted(measured.items(), key=lambda kv: -kv[1])
        )
        print(
            f"    CPU per event, us: {shares}; total {sum(measured.values()) * 1e6:.0f} "
            f"(2 cores allow {2e6 / 10_000:.0f} at 10,000/s); machine busy "
            f"{rates.busy:.0%} of {os.cpu_count()} cores; the bench itself "
            f"{rates.cpu.get(OBSERVER, 0.0) * 1e6:.1f}; longest wait between commits "
            f"{rates.longest_pause * 1000:.0f} ms"
        )


def median_run(runs: list[Rates]) -> Rates:
    """The run with the median committed rate (the lower one of an even count)."""
    return sorted(runs, key=lambda r: r.committed)[(len(runs) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-rate", type=int, default=2_000)
    parser.add_argument("--latency-seconds", type=float, default=10)
    parser.add_argument("--latency-workers", type=int, default=2)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="end-to-end runs per worker count; the ratios use the median run (the "
        "machine's speed varies between runs)",
    )
    parser.add_argument(
        "--workers",
        default="1,2",
        help="worker counts to measure end to end, comma-separated (default 1,2; "
        "the ratios need 1 and 2)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch directory (PostgreSQL's data and log, every process's log) "
        "after a run that succeeds; its path is printed",
    )
    args = parser.parse_args()
    counts = sorted({int(w) for w in args.workers.split(",")} | {1, 2})
    if counts[-1] > PARTITIONS:
        parser.error(f"at most {PARTITIONS} workers: the topic has {PARTITIONS} partitions")

    servers = ExitStack()
    home = scratch_home(servers, keep=args.keep)
    dsn = servers.enter_context(database_url(home))
    bootstrap = servers.enter_context(kafka_bootstrap())
    try:
        print(f"machine: {os.cpu_count()} cores; {args.events} events of type {DATA_ACCESSED}")
        report_quiet()
        v1, v2 = verify_rate(1), verify_rate(2)
        print(f"raw Ed25519 verify:       {v1:10,.0f}/s (1 process)   {v2:10,.0f}/s (2 processes)")

        results: dict[int, Rates] = {}
        consume = 0.0
        for workers in counts:
            runs: list[Rates] = []
            for run in range(args.repeat):
                settings = fresh_ledger(dsn, bootstrap, home, f"bench_{workers}_{run}")
                emitter = register_dwp_with(settings)
                # As many citizens as events, as in a real stream: a few citizens each
                # named by many events would fill the partitions unevenly, and the
                # worker holding fewer events would run out early (see CITIZENS).
                people = nhs_numbers(max(CITIZENS, args.events))
                events = [
                    emitter.build(DATA_ACCESSED, access_data(people[i])) for i in range(args.events)
                ]
                raw = [canonical(e) for e in events]
                rate = produce(settings, raw, [partition_key(e) for e in events])
                if workers == 1 and run == 0:
                    print(f"produce (setup):          {rate:10,.0f}/s")
                    sizes = partition_sizes(bootstrap, settings.topic_submissions, PARTITIONS)
                    print(
                        f"events per partition:     {min(sizes):,}-{max(sizes):,} (the fullest "
                        f"{max(sizes) / (sum(sizes) / len(sizes)) - 1:.1%} above the mean)"
                    )
                    consume = consume_rate(
                        bootstrap, settings.topic_submissions, PARTITIONS, args.events
                    )
                    print(f"raw kafka-python consume: {consume:10,.0f}/s")
                print(f"end to end, {workers} worker(s) + projection runner ...", flush=True)
                runs.append(end_to_end(settings, workers, args.events, home))
                report(workers, runs[-1])
                drop_ledger(dsn, settings)
            results[workers] = median_run(runs)
            if len(runs) > 1:
                low, high = min(r.committed for r in runs), max(r.committed for r in runs)
                print(
                    f"  median of {len(runs)} runs: committed {results[workers].committed:,.0f}/s "
                    f"(range {low:,.0f}-{high:,.0f})"
                )

        print("\nratios (committed; projected in brackets)")
        for workers, rates in results.items():
            print(
                f"  {workers} worker(s) / raw verify, 1 core:  {rates.committed / v1:.3f}"
                f"  ({rates.projected / v1:.3f})"
            )
        print(f"  2 workers / raw verify, 2 processes:  {results[2].committed / v2:.3f}")
        print(f"  1 worker  / raw kafka-python consume: {results[1].committed / consume:.3f}")
        print("  targets: >= 10,000 events/s with 2 workers, >= 0.55 of 1-core verify")

        settings = fresh_ledger(dsn, bootstrap, home, "bench_lat")
        emitter = register_dwp_with(settings)
        samples = latency(
            settings, emitter, args.latency_rate, args.latency_seconds, home, args.latency_workers
        )
        if samples:
            tenth = max(1, len(samples) // 10)
            early, late = statistics.median(samples[:tenth]), statistics.median(samples[-tenth:])
            print(
                f"\nlatency median over the first / last tenth of the run: "
                f"{early * 1000:.0f} / {late * 1000:.0f} ms (growing = offered load above capacity)"
            )
            samples.sort()
            p50 = statistics.median(samples)
            p99 = samples[int(len(samples) * 0.99) - 1]
            print(
                f"latency produce -> timeline, {args.latency_workers} worker(s), "
                f"{args.latency_rate}/s offered for "
                f"{args.latency_seconds:.0f} s: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
                f"max {samples[-1] * 1000:.0f} ms over {len(samples)} events"
                " (target p99 <= 1000 ms)"
            )
    finally:
        servers.close()


if __name__ == "__main__":
    main()
