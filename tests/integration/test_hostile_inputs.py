"""No record stops or wedges the write path, over Kafka or HTTP: every kind of garbage is
refused and stored with a stable reason (never ``unprocessable``, the ledger's own
safety net), the worker lives on, and a valid event sent after the garbage is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from api.app import create_app
from consumers.ingest import IngestWorker
from ledger.application import Ledger
from ledger.refusals import Reason
from ledger.settings import Settings
from tests.support.contract import example_intake, example_worker_thread, register_example_service
from tests.support.garbage import named_garbage, valid_access
from tests.support.hostile import (
    Hostile,
    cloudevent_shaped,
    deep_texts,
    hostile_events,
    json_texts,
    wide_texts,
)
from tests.support.ledger import running_publisher, scalar, wait_until
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

GARBAGE = named_garbage()
REFUSALS = "SELECT count(*) FROM ledger_refusals WHERE channel = %s"
REASONS = "SELECT reason, count(*) FROM ledger_refusals GROUP BY reason"
RECORDED = "SELECT count(*) FROM ledger_submissions WHERE event_id = %s"
SUBMISSIONS = "SELECT count(*) FROM ledger_submissions"
QUOTES = "SELECT count(*) FROM ledger_refusals WHERE strpos(detail || ' ' || pointer, %s) > 0"
WRONG_NHS_NUMBER = "9434765918"  # in the garbage: refused, and never quoted


@contextmanager
def worker_thread(settings: Settings) -> Iterator[tuple[IngestWorker, threading.Thread]]:
    """The real ingest worker with the examples' clock, and the thread it runs in."""
    with example_worker_thread(settings) as (worker, _, thread):
        yield worker, thread


def producer(settings: Settings) -> KafkaProducer:
    # The embedded broker takes records up to about 2 MB; the producer's default is 1 MB.
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=3_000_000
    )


def stable_reasons(settings: Settings) -> dict[str, int]:
    """How many refusals are stored for each reason; each a stable one, not the safety
    net's."""
    with psycopg.connect(settings.database_url) as conn:
        counted = {str(k): int(v) for k, v in conn.execute(REASONS).fetchall()}
    assert set(counted) <= {str(r) for r in Reason} - {str(Reason.UNPROCESSABLE)}
    return counted


def dead_letter_reasons(settings: Settings, expected: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(settings.topic_rejected, p) for p in range(settings.partitions)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: list[str] = []
    try:
        wait_until(
            lambda: (
                found.extend(
                    dict(r.headers)["ledger-reason"].decode()
                    for records in consumer.poll(500).values()
                    for r in records
                )
                or len(found) >= expected
            ),
            what="the dead letters",
        )
    finally:
        consumer.close()
    return found


def test_garbage_through_kafka_is_refused_and_stored_and_the_next_event_recorded(
    settings: Settings, ledger: Ledger
) -> None:
    register_example_service(ledger)
    sent = len(GARBAGE) + 1  # and a tombstone
    with worker_thread(settings) as (worker, thread):
        kafka = producer(settings)
        for _, raw in GARBAGE:
            kafka.send(settings.topic_submissions, value=raw)
        kafka.send(settings.topic_submissions, key=b"tombstone", value=None)
        kafka.send(settings.topic_submissions, value=valid_access())
        kafka.flush()
        kafka.close()

        wait_until(
            lambda: scalar(settings.database_url, RECORDED, "example-valid") == 1,
            timeout=60,
            what="the valid event after the garbage",
        )
        wait_until(
            lambda: scalar(settings.database_url, REFUSALS, "kafka") == sent,
            what="every garbage record refused",
        )
        assert thread.is_alive() and worker.health.stuck_on is None

    assert sum(stable_reasons(settings).values()) == sent
    assert scalar(settings.database_url, QUOTES, WRONG_NHS_NUMBER) == 0
    with running_publisher(settings):
        dead_letters = dead_letter_reasons(settings, sent)
    assert len(dead_letters) == sent and str(Reason.UNPROCESSABLE) not in dead_letters


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    setup = Ledger.from_settings(settings)
    register_example_service(setup)
    setup.close()
    service = bearer(settings, "service", organisation="DWP")
    with TestClient(create_app(settings), headers=service) as client:
        app_state: Any = client.app.state  # type: ignore[attr-defined]
        app_state.write_path.intake = example_intake(app_state.write_path.ledger, settings)
        yield client


def _post(client: TestClient, body: bytes | Iterator[bytes]) -> Any:
    return client.post(
        "/v1/events", content=body, headers={"Content-Type": "application/cloudevents+json"}
    )


def _chunks(raw: bytes) -> Iterator[bytes]:
    """The body in pieces, sent chunked (no Content-Length)."""
    yield from (raw[i : i + 4096] for i in range(0, len(raw), 4096))


@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_garbage_over_http_is_a_problem_stored_and_the_next_event_recorded(
    client: TestClient, settings: Settings, chunked: bool
) -> None:
    for name, raw in GARBAGE:
        response = _post(client, _chunks(raw) if chunked else raw)

        assert 400 <= response.status_code < 500, name
        assert response.headers["content-type"] == "application/problem+json", name
        problem = response.json()
        assert problem["reason"] in {str(r) for r in Reason}, name
        assert problem["reason"] != Reason.UNPROCESSABLE, name
        assert problem["type"].endswith("/" + problem["reason"]), name

    assert scalar(settings.database_url, REFUSALS, "http") == len(GARBAGE)
    assert sum(stable_reasons(settings).values()) == len(GARBAGE)
    assert scalar(settings.database_url, QUOTES, WRONG_NHS_NUMBER) == 0
    assert _post(client, valid_access()).status_code == 202


@pytest.mark.parametrize("declared", [b"9" * 20, b"9" * 5000], ids=["20 digits", "5000 digits"])
def test_an_absurd_content_length_is_refused_as_oversized_and_stored(
    client: TestClient, settings: Settings, declared: bytes
) -> None:
    headers = {"Content-Type": "application/cloudevents+json", "Content-Length": declared}
    response = client.post("/v1/events", content=valid_access(), headers=headers)

    assert response.status_code == 413
    assert response.json()["reason"] == Reason.OVERSIZED
    assert scalar(settings.database_url, REFUSALS, "http") == 1


class Feed:
    """A running worker and a producer, fed generated records example after example."""

    def __init__(self, settings: Settings, worker: IngestWorker, thread: threading.Thread):
        self.settings = settings
        self.worker = worker
        self.thread = thread
        self.kafka = producer(settings)
        self.sent = 0
        self.ids: set[str] = set()
        self.carried: list[str] = []
        self.stored_before = self.stored()

    def stored(self) -> int:
        url = self.settings.database_url
        return int(scalar(url, SUBMISSIONS)) + int(scalar(url, REFUSALS, "kafka"))

    def bytes_of(self, record: bytes | Hostile) -> bytes | None:
        """The record's bytes; a signed one gets an id of its own unless made hostile,
        so that none is a resend of another (which would be stored once for two)."""
        if isinstance(record, bytes):
            return record
        event_id = record.event.get("id")
        if isinstance(event_id, str) and (event_id in self.ids or event_id.startswith("example-")):
            record.event["id"] = event_id = f"generated-{len(self.ids)}"
        if isinstance(event_id, str):
            self.ids.add(event_id)
        self.carried += record.carried
        return record.signed()

    def send(self, records: list[bytes | Hostile]) -> None:
        for record in records:
            raw = self.bytes_of(record)
            if raw is not None:
                self.kafka.send(self.settings.topic_submissions, value=raw)
                self.sent += 1
        self.kafka.flush()


@pytest.fixture
def feed(settings: Settings, ledger: Ledger) -> Iterator[Feed]:
    register_example_service(ledger)
    with worker_thread(settings) as (worker, thread):
        feed = Feed(settings, worker, thread)
        yield feed
        feed.kafka.close()


records = st.one_of(
    st.binary(max_size=300),
    json_texts,
    deep_texts(),
    wide_texts(),
    cloudevent_shaped(),
    hostile_events(),
    hostile_events(),
)


@hypothesis_settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batch=st.lists(records, min_size=50, max_size=100))
def test_every_generated_record_ends_as_one_event_or_one_refusal_and_the_worker_lives_on(
    feed: Feed, batch: list[bytes | Hostile]
) -> None:
    feed.send(batch)

    wait_until(
        lambda: feed.stored() == feed.stored_before + feed.sent,
        timeout=60,
        what="an event or a refusal for every record sent",
    )
    assert feed.thread.is_alive() and feed.worker.health.stuck_on is None
    assert str(Reason.UNPROCESSABLE) not in feed.worker.stats.refused
    stable_reasons(feed.settings)
    for identifier in feed.carried:
        assert scalar(feed.settings.database_url, QUOTES, identifier) == 0, identifier
