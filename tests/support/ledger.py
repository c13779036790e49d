"""Builders for tests: a registered service, realistic events, a running ingest worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import psycopg
from kafka import KafkaConsumer, TopicPartition
from ledger_emitter import Emitter, SigningKey, canonical

from consumers.ingest import IngestWorker
from ledger.administration import Administration
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED, ORGANISATION_REGISTERED
from ledger.incoming import Direct, Incoming, Status
from ledger.intake import Intake
from ledger.settings import Settings
from ledger.writing import WritePath
from publishers.outbox import OutboxPublisher

DWP_SOURCE = "urn:ledger:service:dwp:test-case-system"


def access_data(nhs_number: str = "9434765919", organisation: str = "DWP") -> dict[str, Any]:
    return {
        "subjects": [{"scheme": "nhs-number", "value": nhs_number}],
        "accessor": {"organisation": organisation, "role": "Work coach", "official": "staff-0042"},
        "system": "Universal Credit case system",
        "record": "benefit claim",
        "data_categories": [{"code": "benefits", "text": "your benefit claim details"}],
        "purpose": {"code": "uc-claim", "text": "to process your Universal Credit application"},
        "lawful_basis": {"article6": "public-task", "article9": None},
        "action": "viewed",
        "break_glass": False,
    }


def administration(ledger: Ledger) -> Administration:
    """The administrators, with the development key, acting on ``ledger`` (one built
    from settings: it knows the secret the key derives from)."""
    assert ledger.trust is not None, "a ledger from settings"
    keyring = ledger.trust.keyring
    intake = Intake(ledger, keyring, max_bytes=65536, max_future=timedelta(minutes=5))
    return Administration(WritePath(ledger, intake), SigningKey(keyring.derive(b"administrators")))


def register_organisations(ledger: Ledger, count: int, prefix: str = "ORG") -> None:
    """Record ``count`` organisation registrations the administrators sign, 200 to a
    batch through the write path (events any audit checks back to the root of trust)."""
    admin = administration(ledger)
    for start in range(0, count, 200):
        batch = [
            Incoming(
                canonical(
                    admin.emitter.build(
                        ORGANISATION_REGISTERED,
                        {"organisation": {"code": f"{prefix}{i}", "name": f"Organisation {i}"}},
                        event_id=f"register-{prefix}{i}",
                    )
                ),
                Direct(),
            )
            for i in range(start, min(start + 200, count))
        ]
        outcomes = admin.write_path.submit(batch)
        assert all(o.status is Status.RECORDED for o in outcomes), outcomes


def register_dwp(ledger: Ledger, source: str = DWP_SOURCE) -> Emitter:
    """Register DWP and one of its services with a fresh key; return its emitter."""
    admin = administration(ledger)
    admin.register_organisation("DWP", "the Department for Work and Pensions")
    admin.register_service(source, "DWP", "Test case system", [DATA_ACCESSED])
    key = SigningKey.generate()
    admin.register_key(source, key.public_key, datetime.now(UTC) - timedelta(days=1))
    return Emitter(source, key)


def register_dwp_with(settings: Settings) -> Emitter:
    """:func:`register_dwp` on the ledger ``settings`` name, opened for it and closed."""
    ledger = Ledger.from_settings(settings)
    try:
        return register_dwp(ledger)
    finally:
        ledger.close()


def make_intake(ledger: Ledger, settings: Settings) -> Intake:
    return Intake.from_settings(ledger, settings)


class Runnable(Protocol):
    def run(self, stop: threading.Event) -> None: ...


R = TypeVar("R", bound=Runnable)


@contextmanager
def _running(settings: Settings, make: Callable[[Ledger], R], name: str) -> Iterator[R]:
    """A real long-running part, in a thread, with its own ledger; stopped on exit."""
    ledger = Ledger.from_settings(settings)
    part = make(ledger)
    stop = threading.Event()
    thread = threading.Thread(target=part.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield part
    finally:
        stop.set()
        thread.join(timeout=30)
        ledger.close()
        assert not thread.is_alive(), f"the {name} did not stop"


def running_worker(settings: Settings) -> AbstractContextManager[IngestWorker]:
    """A real ingest worker against the real broker and PostgreSQL."""
    return _running(
        settings,
        lambda ledger: IngestWorker(settings, WritePath(ledger, make_intake(ledger, settings))),
        "ingest worker",
    )


def running_publisher(settings: Settings) -> AbstractContextManager[OutboxPublisher]:
    """A real outbox publisher: ledger events and dead letters to their topics."""
    return _running(settings, lambda ledger: OutboxPublisher(settings, ledger), "outbox publisher")


def dead_letters(settings: Settings, expected: int) -> list[tuple[bytes, dict[str, bytes]]]:
    """(value, headers) of the records on the dead-letter topic, once there are enough."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(settings.topic_rejected, p) for p in range(settings.partitions)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: list[tuple[bytes, dict[str, bytes]]] = []

    def polled() -> bool:
        found.extend((r.value, dict(r.headers)) for rs in consumer.poll(500).values() for r in rs)
        return len(found) >= expected

    wait_until(polled, what="dead letters")
    consumer.close()
    return found


Found = TypeVar("Found")


def wait_until(predicate: Callable[[], Found], timeout: float = 30, what: str = "") -> Found:
    """What ``predicate`` answers once it is true (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def scalar(database_url: str, query: str, *params: Any) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, params or None).fetchone()
        return None if row is None else row[0]
