"""The broker going away and coming back: the parts that talk to it recover by themselves.

After a broker restart an idempotent producer's id is unknown to the broker and the old
producer fails for good (BROKER.md): the outbox publisher must make a new one. An ingest worker
must ride out the outage; a broker that comes back empty has a new topic, which the
worker reads from its beginning (a Kafka that keeps its log keeps its topic id, and the
worker carries on from the positions the ledger tracked)."""

from __future__ import annotations

import time

import pytest
from ledger_emitter import canonical

from infra.broker import EmbeddedBroker
from infra.topics import ensure_topics, topic_ids
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from tests.support.ledger import (
    access_data,
    make_intake,
    register_dwp,
    running_publisher,
    running_worker,
    scalar,
    wait_until,
)
from tests.support.stream import (
    assert_merkle_audit_passes,
    build_stream,
    ledger_contents,
    produce,
    progress,
)

pytestmark = pytest.mark.integration


def record(ledger: Ledger, settings: Settings, count: int) -> int:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    raws = [canonical(emitter.build(DATA_ACCESSED, access_data())) for _ in range(count)]
    ledger.record_batch([intake.assess(raw) for raw in raws])
    return int(scalar(settings.database_url, "SELECT max(notification_id) FROM ledger_events"))


def test_the_outbox_publisher_publishes_again_after_the_broker_restarts(
    settings: Settings, broker_server: EmbeddedBroker
) -> None:
    ledger = Ledger.from_settings(settings)
    try:
        first = record(ledger, settings, 2)
        with running_publisher(settings) as publisher:
            wait_until(lambda: publisher.position() >= first, what="the first events relayed")

            broker_server.restart()  # the embedded broker comes back empty
            ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
            last = record(ledger, settings, 2)

            wait_until(lambda: publisher.position() >= last, 60, "events relayed after the restart")
            assert publisher.metrics.transient_failures._value.get() >= 1  # it did meet the failure
    finally:
        ledger.close()


def test_an_ingest_worker_reads_a_broker_that_came_back_empty_as_a_new_topic(
    settings: Settings, broker_server: EmbeddedBroker
) -> None:
    ledger = Ledger.from_settings(settings)
    try:
        stream = build_stream(register_dwp(ledger), valid=300, duplicates=20, invalid=30)
    finally:
        ledger.close()
    half = len(stream.records) // 2
    produce(settings, stream.part(0, half), producers=1)
    with running_worker(settings) as worker:
        wait_until(lambda: progress(settings) == half, 60, "the first half recorded")
        first_life = worker.incarnation

        broker_server.stop()
        time.sleep(4)  # the worker polls a broker that is not there
        broker_server.start()
        # The embedded broker comes back empty; its topic, created again, is a new
        # incarnation whose offsets start at 0. The services send everything again.
        ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
        second_life = topic_ids(settings.kafka_bootstrap, [settings.topic_submissions])
        produce(settings, stream, producers=1)

        (new,) = second_life.values()
        wait_until(
            lambda: progress(settings, new) == len(stream.records), 90, "the new topic, whole"
        )
        assert worker.incarnation == new != first_life
        assert worker.health.stuck_on is None
    ids, refusals = ledger_contents(settings)
    assert sorted(ids) == sorted(stream.valid_ids)  # each event once, the resent ones too
    in_new_life = "SELECT count(*) FROM ledger_refusals WHERE topic_incarnation = %s"
    assert scalar(settings.database_url, in_new_life, new) == stream.invalid
    assert refusals > stream.invalid  # the first life's refusals are kept apart
    assert_merkle_audit_passes(settings)
