"""The outbox publisher publishes committed ledger events to ledger.events, in order, once."""

from __future__ import annotations

import threading

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition
from ledger_emitter import canonical

from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.incoming import Direct, Incoming
from ledger.settings import Settings
from publishers.outbox import OutboxPublisher
from tests.support.ledger import access_data, make_intake, register_dwp, scalar, wait_until

pytestmark = pytest.mark.integration


def record_accesses(ledger: Ledger, settings: Settings, count: int) -> None:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    ledger.record(
        [
            intake.assess(canonical(emitter.build(DATA_ACCESSED, access_data())))
            for _ in range(count)
        ]
    )


def relayed(settings: Settings, expected: int) -> list[tuple[int, int, bytes]]:
    """(partition, position, value) of every record on the events topic."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(settings.topic_events, p) for p in range(settings.partitions)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: list[tuple[int, int, bytes]] = []

    def poll() -> bool:
        for records in consumer.poll(300).values():
            found.extend(
                (r.partition, int(dict(r.headers)["ledger-position"]), r.value) for r in records
            )
        return len(found) >= expected

    wait_until(poll, what=f"{expected} relayed events")
    for _ in range(3):  # and nothing more arrives
        poll()
    consumer.close()
    return found


def run_publisher_until(ledger: Ledger, settings: Settings, position: int) -> OutboxPublisher:
    publisher = OutboxPublisher(settings, ledger)
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(stop,), daemon=True)
    thread.start()
    wait_until(lambda: publisher.position() >= position, what=f"publisher at {position}")
    stop.set()
    thread.join(timeout=20)
    return publisher


def test_every_committed_event_is_published_once_in_ledger_order(
    ledger: Ledger, settings: Settings
) -> None:
    record_accesses(ledger, settings, 5)
    last = scalar(settings.database_url, "SELECT max(notification_id) FROM ledger_events")
    total = scalar(settings.database_url, "SELECT count(*) FROM ledger_events")

    run_publisher_until(ledger, settings, last)
    events = relayed(settings, total)

    for partition in {p for p, _, _ in events}:
        in_partition = [pos for p, pos, _ in events if p == partition]
        assert in_partition == sorted(in_partition), "a partition is out of ledger order"
    positions = [pos for _, pos, _ in events]
    assert sorted(positions) == [
        row
        for (row,) in _rows(
            settings.database_url, "SELECT notification_id FROM ledger_events ORDER BY 1"
        )
    ]
    assert all(b"9434765919" not in value for _, _, value in events)


def test_a_restarted_publisher_continues_from_its_tracked_position(
    ledger: Ledger, settings: Settings
) -> None:
    record_accesses(ledger, settings, 2)
    first_last = scalar(settings.database_url, "SELECT max(notification_id) FROM ledger_events")
    run_publisher_until(ledger, settings, first_last)

    record_accesses(ledger, settings, 3)
    last = scalar(settings.database_url, "SELECT max(notification_id) FROM ledger_events")
    run_publisher_until(ledger, settings, last)

    total = scalar(settings.database_url, "SELECT count(*) FROM ledger_events")
    positions = [pos for _, pos, _ in relayed(settings, total)]
    assert len(positions) == len(set(positions)) == total


def _rows(database_url: str, query: str) -> list[tuple[int]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return list(conn.execute(query).fetchall())


def test_a_dead_letter_that_cannot_be_published_is_reported_and_skipped_past(
    ledger: Ledger, settings: Settings
) -> None:
    from ledger.keyring import Keyring
    from ledger.writing import WritePath
    from tests.support.ledger import dead_letters, running_publisher

    intake = make_intake(ledger, settings)
    write_path = WritePath(ledger, intake)
    write_path.submit([Incoming(b"{not json", Direct()), Incoming(b"[]", Direct())])
    # Hand-made damage: the first refusal's kept bytes grown past what one Kafka record
    # may carry (the write path never keeps that much).
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ledger_refusals SET raw_sealed = repeat('x', 2000000)::bytea "
            "WHERE refusal_id = (SELECT min(refusal_id) FROM ledger_refusals)"
        )

    with running_publisher(settings) as publisher:
        [(value, headers)] = dead_letters(settings, expected=1)
        assert Keyring.from_settings(settings).open(value) == b"[]"
        assert headers["ledger-reason"] == b"not-a-cloudevent"
        wait_until(lambda: publisher.skipped == 1, what="the skip reported")
        assert publisher.health.stuck_on is None
    reason = scalar(settings.database_url, "SELECT reason FROM ledger_outbox_skipped")
    assert "MessageSizeTooLargeError" in reason
