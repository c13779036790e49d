"""A submissions topic created anew (the embedded broker forgets its topics on every
restart; an operator may delete and create one) starts again at offset 0. Its records
must be read from its beginning, and their positions, in tracking and in refusals, must
never be taken for the old topic's."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from eventsourcing.persistence import Tracking
from kafka import KafkaAdminClient
from ledger_emitter import Emitter, KafkaTransport

from cli.supervisor import prepare
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.persistence import legacy_stream_name
from ledger.settings import Settings
from tests.support.ledger import access_data, register_dwp, running_worker, scalar, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def reborn(settings: Settings) -> Settings:
    """Settings whose topics this test creates (and deletes) itself."""
    suffix = uuid.uuid4().hex[:6]
    return dataclasses.replace(
        settings,
        topic_submissions=f"reborn_submissions.{suffix}",
        topic_rejected=f"reborn_rejected.{suffix}",
        topic_events=f"reborn_events.{suffix}",
    )


def _send_forgery_and_access(emitter: Emitter, settings: Settings, event_id: str) -> None:
    """What the demo sends: one forged event (refused), then a valid access."""
    transport = KafkaTransport(settings.kafka_bootstrap, settings.topic_submissions)
    forged = emitter.build(DATA_ACCESSED, access_data(), event_id="forged")
    forged["data"]["record"] = "medical history"  # altered after signing
    transport.send(b"0000", json.dumps(forged).encode())
    emitter.transport = transport
    emitter.emit(DATA_ACCESSED, access_data(), event_id=event_id)
    transport.flush()
    transport.close()


def _recorded(settings: Settings, event_id: str) -> bool:
    query = "SELECT count(*) FROM ledger_submissions WHERE event_id = %s"
    return bool(scalar(settings.database_url, query, event_id) == 1)


def test_a_topic_created_anew_is_read_from_its_beginning_and_its_refusals_kept_apart(
    reborn: Settings,
) -> None:
    ledger = Ledger.from_settings(reborn)
    emitter = register_dwp(ledger)
    ledger.close()
    prepare(reborn)
    _send_forgery_and_access(emitter, reborn, "first-run")
    with running_worker(reborn):
        wait_until(lambda: _recorded(reborn, "first-run"), 30, "the first run's access")

    # The broker forgets the topic (a second `make run`): it is created anew, and its
    # offsets start at 0 again.
    admin = KafkaAdminClient(bootstrap_servers=reborn.kafka_bootstrap)
    admin.delete_topics([reborn.topic_submissions])
    admin.close()
    prepare(reborn)
    _send_forgery_and_access(emitter, reborn, "second-run")

    with running_worker(reborn) as worker:
        wait_until(lambda: _recorded(reborn, "second-run"), 30, "the second run's access")
        assert worker.health.stuck_on is None
    assert scalar(reborn.database_url, "SELECT count(*) FROM ledger_refusals") == 2
    lives = "SELECT count(DISTINCT topic_incarnation) FROM ledger_refusals"
    assert scalar(reborn.database_url, lives) == 2  # the same offset, in two lives of a topic


def test_positions_tracked_before_incarnations_are_forgotten_for_a_new_topic(
    reborn: Settings,
) -> None:
    ledger = Ledger.from_settings(reborn)
    # What a version without incarnations left: its topic of the same name had reached 50.
    legacy = [Tracking(legacy_stream_name(reborn.topic_submissions, p), 50) for p in range(3)]
    other = Tracking(legacy_stream_name("some.other.topic", 0), 7)
    ledger.record_batch([], [], [*legacy, other])
    ledger.close()

    prepare(reborn)  # what `ledger run` does at start: the topic is created anew

    tracked = "SELECT count(*) FROM ledger_tracking WHERE application_name = %s"
    for position in legacy:
        assert scalar(reborn.database_url, tracked, position.application_name) == 0
    assert (
        scalar(
            reborn.database_url,
            "SELECT notification_id FROM ledger_tracking WHERE application_name = %s",
            other.application_name,
        )
        == 7
    )  # other sources' positions are untouched


def test_positions_tracked_before_incarnations_are_kept_for_a_topic_that_lived_on(
    reborn: Settings,
) -> None:
    prepare(reborn)  # the topic exists (a Kafka that keeps its topics)
    ledger = Ledger.from_settings(reborn)
    legacy = Tracking(legacy_stream_name(reborn.topic_submissions, 1), 41)
    ledger.record_batch([], [], [legacy])
    ledger.close()

    prepare(reborn)  # the upgrade: the topic was not created now

    ledger = Ledger.from_settings(reborn)
    tracked = ledger.ledger_recorder.positions(f"kafka:{reborn.topic_submissions}@")
    ledger.close()
    (name,) = tracked
    assert name.endswith(":1")
    assert (
        scalar(
            reborn.database_url,
            "SELECT notification_id FROM ledger_tracking WHERE application_name = %s",
            name,
        )
        == 41
    )
