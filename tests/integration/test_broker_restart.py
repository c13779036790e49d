"""After a broker restart an idempotent producer's id is unknown to the broker and the old
producer fails for good (BROKER.md); the relay must recover by itself."""

from __future__ import annotations

import pytest

from infra.broker import EmbeddedBroker
from infra.topics import ensure_topics
from ledger import signing
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from tests.support.ledger import (
    access_data,
    make_intake,
    register_dwp,
    running_relay,
    scalar,
    wait_until,
)

pytestmark = pytest.mark.integration


def record(ledger: Ledger, settings: Settings, count: int) -> int:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    raws = [signing.canonical(emitter.build(DATA_ACCESSED, access_data())) for _ in range(count)]
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
