"""The embedded broker forgets its topics on every restart; PostgreSQL does not forget
the offsets it tracked. A submissions topic created anew must be read from offset 0."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from eventsourcing.persistence import Tracking
from ledger_emitter import KafkaTransport

from cli.supervisor import prepare
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.persistence import kafka_tracking_name
from ledger.settings import Settings
from tests.support.ledger import access_data, register_dwp, running_worker, scalar, wait_until

pytestmark = pytest.mark.integration


def test_a_submissions_topic_created_anew_is_read_from_its_beginning(settings: Settings) -> None:
    suffix = uuid.uuid4().hex[:6]
    reborn = dataclasses.replace(
        settings,
        topic_submissions=f"reborn_submissions.{suffix}",
        topic_rejected=f"reborn_rejected.{suffix}",
        topic_events=f"reborn_events.{suffix}",
    )
    ledger = Ledger.from_settings(reborn)
    emitter = register_dwp(ledger)
    # What a previous run left: its topic of the same name had reached offset 50.
    ledger.record_batch(
        [], [], [Tracking(kafka_tracking_name(reborn.topic_submissions, p), 50) for p in range(3)]
    )
    other = Tracking(kafka_tracking_name("some.other.topic", 0), 7)
    ledger.record_batch([], [], [other])
    ledger.close()

    prepare(reborn)  # what `ledger run` does at start: the topic is created anew

    emitter.transport = KafkaTransport(reborn.kafka_bootstrap, reborn.topic_submissions)
    emitter.emit(DATA_ACCESSED, access_data(), event_id="after-restart")
    emitter.transport.flush()
    with running_worker(reborn):
        wait_until(
            lambda: (
                scalar(
                    reborn.database_url,
                    "SELECT count(*) FROM ledger_submissions WHERE event_id = 'after-restart'",
                )
                == 1
            ),
            timeout=20,
            what="the first record of the new topic",
        )
    assert (
        scalar(
            reborn.database_url,
            "SELECT notification_id FROM ledger_tracking WHERE application_name = %s",
            kafka_tracking_name("some.other.topic", 0),
        )
        == 7
    )  # other sources' positions are untouched
