"""A stream of submissions with known contents, real worker processes, and the checks
that nothing was lost, doubled or altered."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaProducer
from ledger_emitter import Emitter, SigningKey, canonical, partition_key

from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from tests.support.ledger import access_data, scalar

ROOT = Path(__file__).resolve().parents[2]


def nhs_numbers(count: int, seed: int = 7) -> list[str]:
    """Valid NHS numbers (modulus 11 check digit)."""
    rng = random.Random(seed)
    found: list[str] = []
    while len(found) < count:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            found.append("".join(map(str, digits)) + str(check))
    return found


@dataclass
class Stream:
    """Records to send, and what the ledger must end up holding."""

    records: list[tuple[bytes, bytes]] = field(default_factory=list)
    valid_ids: set[str] = field(default_factory=set)
    invalid: int = 0

    @property
    def distinct_submissions(self) -> int:
        return len(self.valid_ids) + self.invalid

    def part(self, start: int, stop: int | None = None) -> Stream:
        """The records from ``start`` to ``stop``, to send in stages."""
        return Stream(records=self.records[start:stop])


def build_stream(emitter: Emitter, valid: int, duplicates: int, invalid: int) -> Stream:
    rng = random.Random(11)
    stream = Stream()
    people = nhs_numbers(500)
    signed = []
    for i in range(valid):
        event = emitter.build(DATA_ACCESSED, access_data(people[i % len(people)]), event_id=f"e{i}")
        signed.append(event)
        stream.valid_ids.add(event["id"])
        stream.records.append((partition_key(event), canonical(event)))
    for event in rng.sample(signed, duplicates):  # a service resending after a timeout
        stream.records.append((partition_key(event), canonical(event)))
    stranger = Emitter(emitter.source, SigningKey.generate())  # a key nobody registered
    for i in range(invalid):
        event = (stranger if i % 3 == 0 else emitter).build(
            DATA_ACCESSED, access_data(people[i % 50])
        )
        if i % 3 == 1:
            event["data"]["record"] = "altered after signing"
            raw = json.dumps(event).encode()
        elif i % 3 == 2:
            raw = b'{"specversion": "1.0", "id": ' + str(i).encode()  # cut short
        else:
            raw = canonical(event)
        stream.records.append((partition_key(event), raw))
        stream.invalid += 1
    rng.shuffle(stream.records)
    return stream


def produce(settings: Settings, stream: Stream, producers: int = 3) -> dict[int, int]:
    """Send the stream from several producers at once; the last offset of each partition."""
    last: dict[int, int] = {}
    lock = threading.Lock()

    def send(part: list[tuple[bytes, bytes]]) -> None:
        producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        futures = [producer.send(settings.topic_submissions, key=k, value=v) for k, v in part]
        producer.flush(timeout=120)
        for future in futures:
            meta = future.get(timeout=60)
            with lock:
                last[meta.partition] = max(last.get(meta.partition, -1), meta.offset)
        producer.close()

    threads = [
        threading.Thread(target=send, args=(stream.records[i::producers],))
        for i in range(producers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return last


def progress(settings: Settings, incarnation: str = "%") -> int:
    """How many submissions the ledger has durably consumed (tracked offsets + 1), in
    every incarnation of the submissions topic or in the one named."""
    return int(
        scalar(
            settings.database_url,
            "SELECT coalesce(sum(notification_id + 1), 0) FROM ledger_tracking "
            "WHERE application_name LIKE %s",
            f"kafka:{settings.topic_submissions}@{incarnation}:%",
        )
    )


class Workers:
    """Real `ledger ingest` processes, which the test may SIGKILL at any moment."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "ingest"], env=self.env, stdout=log, stderr=log
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def ledger_contents(settings: Settings) -> tuple[list[str], int]:
    """(event ids recorded, refusals stored)."""
    import psycopg

    with psycopg.connect(settings.database_url) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT convert_from(state, 'UTF8')::jsonb->>'event_id' FROM ledger_events "
                "WHERE topic LIKE '%%DataAccess.Recorded'"
            )
        ]
        refusals = conn.execute("SELECT count(*) FROM ledger_refusals").fetchone()
    return ids, int(refusals[0]) if refusals else 0


def assert_exactly_once(settings: Settings, stream: Stream) -> None:
    ids, refusals = ledger_contents(settings)
    assert len(ids) == len(set(ids)), "an event was recorded twice"
    lost, unknown = stream.valid_ids - set(ids), set(ids) - stream.valid_ids
    assert not lost and not unknown, f"{len(lost)} events lost, {len(unknown)} unknown"
    assert refusals == stream.invalid, f"{refusals} refusals stored, {stream.invalid} sent"
    assert len(ids) + refusals == stream.distinct_submissions
    assert_merkle_audit_passes(settings)


def assert_merkle_audit_passes(settings: Settings) -> None:
    """Seal everything into the verifiable log, then audit the whole database."""
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    for command in (["seal", "--once"], ["verify", "--audit"]):
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"ledger {' '.join(command)}: {result.stdout}{result.stderr}"
    assert result.stdout.startswith("OK: "), result.stdout
