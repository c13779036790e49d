"""The broker going away and coming back: the parts that talk to it recover by themselves.

After a broker restart an idempotent producer's id is unknown to the broker and the old
producer fails for good (BROKER.md): the relay must make a new one. An ingest worker
must ride out the outage and carry on from the positions tracked in PostgreSQL."""

from __future__ import annotations

import time

import pytest
from ledger_emitter import canonical

from infra.broker import EmbeddedBroker
from infra.topics import ensure_topics
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from tests.support.ledger import (
    access_data,
    make_intake,
    register_dwp,
    running_relay,
    running_worker,
    scalar,
    wait_until,
)
from tests.support.stream import assert_exactly_once, build_stream, produce, progress

pytestmark = pytest.mark.integration


def record(ledger: Ledger, settings: Settings, count: int) -> int:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    raws = [canonical(emitter.build(DATA_ACCESSED, access_data())) for _ in range(count)]
    ledger.record_batch([intake.assess(raw) for raw in raws])
    return int(scalar(settings.database_url, "SELECT max(notification_id) FROM ledger_events"))


def test_the_relay_publishes_again_after_the_broker_restarts(
    settings: Settings, broker_server: EmbeddedBroker
) -> None:
    ledger = Ledger.from_settings(settings)
    try:
        first = record(ledger, settings, 2)
        with running_relay(settings) as relay:
            wait_until(lambda: relay.position() >= first, what="the first events relayed")

            broker_server.restart()  # the embedded broker comes back empty
            ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
            last = record(ledger, settings, 2)

            wait_until(lambda: relay.position() >= last, 60, "events relayed after the restart")
            assert relay.metrics.transient_failures._value.get() >= 1  # it did meet the failure
    finally:
        ledger.close()


def test_the_ingest_worker_rides_out_the_broker_going_down(
    settings: Settings, broker_server: EmbeddedBroker
) -> None:
    ledger = Ledger.from_settings(settings)
    try:
        stream = build_stream(register_dwp(ledger), valid=300, duplicates=20, invalid=30)
    finally:
        ledger.close()
    half = len(stream.records) // 2
    produce(settings, stream.part(0, half), producers=1)  # one producer: a fixed order
    with running_worker(settings) as worker:
        wait_until(lambda: progress(settings) == half, 60, "the first half recorded")

        broker_server.stop()
        time.sleep(4)  # the worker polls a broker that is not there
        broker_server.start()
        # Kafka keeps its log through a restart; the embedded broker forgets it, so the
        # same records are written again in the same order (the same partitions and
        # offsets), and then the rest of the stream.
        ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
        produce(settings, stream, producers=1)

        wait_until(
            lambda: progress(settings) == len(stream.records), 90, "the rest after the outage"
        )
    # Only the stream's own resends were seen twice: after the outage the worker went on
    # from the positions tracked in PostgreSQL, not from the start of the partitions.
    assert worker.stats.duplicates == 20
    assert_exactly_once(settings, stream)
