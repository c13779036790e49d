"""The ledger's write path against a real PostgreSQL: one transaction, or nothing."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from ledger_emitter import canonical

from ledger.administration import registry_trust
from ledger.application import MAX_EVENTS_PER_SAVE, Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.keyring import Keyring
from ledger.refusals import RefusalRecord
from ledger.settings import Settings
from ledger.vault import is_sealed
from tests.support.ledger import access_data, make_intake, register_dwp, scalar

pytestmark = pytest.mark.integration

ACCESS_ROWS = "SELECT count(*) FROM ledger_events WHERE topic LIKE '%DataAccess.Recorded'"


def test_events_and_their_kafka_position_commit_together(
    ledger: Ledger, settings: Settings
) -> None:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    aggregate = intake.assess(canonical(emitter.build(DATA_ACCESSED, access_data())))

    positions = ledger.record([aggregate], trackings=[Tracking("kafka:submissions:0", 41)])

    assert len(positions) == 1
    assert ledger.ledger_recorder.positions("kafka:submissions:") == {"kafka:submissions:0": 41}
    assert scalar(settings.database_url, ACCESS_ROWS) == 1


def test_a_replayed_position_changes_nothing_not_even_new_events(
    ledger: Ledger, settings: Settings
) -> None:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    first = intake.assess(canonical(emitter.build(DATA_ACCESSED, access_data())))
    ledger.record([first], trackings=[Tracking("kafka:submissions:0", 7)])
    second = intake.assess(canonical(emitter.build(DATA_ACCESSED, access_data())))

    with pytest.raises(IntegrityError):
        ledger.record([second], trackings=[Tracking("kafka:submissions:0", 7)])

    assert scalar(settings.database_url, ACCESS_ROWS) == 1


def test_the_same_submission_twice_is_recorded_once(ledger: Ledger, settings: Settings) -> None:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    raw = canonical(emitter.build(DATA_ACCESSED, access_data(), event_id="evt-1"))

    first = ledger.record([intake.assess(raw), intake.assess(raw)])
    again = ledger.record([intake.assess(raw)])

    assert len(first) == 1 and again == []
    assert scalar(settings.database_url, ACCESS_ROWS) == 1


def test_a_resend_among_new_facts_is_caught_by_the_key_and_the_rest_recorded(
    ledger: Ledger, settings: Settings
) -> None:
    """Fact batches skip the "already recorded?" read; the submissions' primary key
    refuses the resend, the whole transaction rolls back, and the batch is recorded
    again with the check: the new facts once, the resend as a duplicate."""
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    raw = canonical(emitter.build(DATA_ACCESSED, access_data(), event_id="evt-1"))
    (original,) = ledger.record([intake.assess(raw)])
    fresh = [
        intake.assess(canonical(emitter.build(DATA_ACCESSED, access_data()))) for _ in range(3)
    ]
    ledger._check_known_until = 0.0  # as if no resend was seen for a while

    outcome = ledger.record_batch(
        [fresh[0], intake.assess(raw), *fresh[1:]], trackings=[Tracking("kafka:s:0", 9)]
    )

    assert outcome.duplicates == [1] and outcome.positions[1] == original
    assert len(outcome.appended) == 3
    assert scalar(settings.database_url, ACCESS_ROWS) == 4
    submitted = "SELECT count(*) FROM ledger_submissions WHERE source = %s"
    assert scalar(settings.database_url, submitted, emitter.source) == 4
    assert ledger.ledger_recorder.positions("kafka:s:") == {"kafka:s:0": 9}


def test_a_refusal_keeps_the_original_bytes_sealed(ledger: Ledger, settings: Settings) -> None:
    raw = b'{"not": "a cloudevent", "nhs": "9434765919"}'
    keyring = Keyring.from_settings(settings)
    row = RefusalRecord(
        reason="not-a-cloudevent",
        detail="missing attributes",
        pointer="",
        received_at=datetime.now(UTC),
        received_sha256=hashlib.sha256(raw).hexdigest(),
        received_size=len(raw),
        truncated=False,
        kept_sealed=keyring.seal(raw),
        channel="kafka",
        topic="submissions",
        incarnation="epoch-1",
        partition=0,
        offset=3,
    )

    ledger.record([], refusals=[row], trackings=[Tracking("kafka:submissions:0", 3)])

    sealed = scalar(settings.database_url, "SELECT raw_sealed FROM ledger_refusals")
    assert b"9434765919" not in bytes(sealed)
    assert keyring.open(bytes(sealed)) == raw
    assert ledger.ledger_recorder.positions("kafka:") == {"kafka:submissions:0": 3}


def test_one_transaction_never_carries_more_than_the_safe_number_of_events(
    ledger: Ledger,
) -> None:
    with pytest.raises(ValueError, match="at most"):
        ledger.record([object()] * (MAX_EVENTS_PER_SAVE + 1))  # type: ignore[list-item]


def test_with_an_aggregate_cache_the_full_save_keeps_it_current(settings: Settings) -> None:
    from ledger.application import eventsourcing_env

    # Without fast-forwarding, eventsourcing's cache is only as current as what save() put.
    env = eventsourcing_env(settings.database_url)
    env = {**env, "AGGREGATE_CACHE_MAXSIZE": "10", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    ledger = Ledger(env, registry_trust(settings), Keyring.from_settings(settings).vault())
    try:
        emitter = register_dwp(ledger)
        intake = make_intake(ledger, settings)
        submission = intake.assess(canonical(emitter.build(DATA_ACCESSED, access_data())))

        outcome = ledger.record_batch([submission])

        assert len(outcome.appended) == 1
        assert ledger.repository.cache is not None
        for aggregate_id in {c.aggregate_id for c in submission.changes}:
            assert ledger.repository.cache.get(aggregate_id).version == 1
    finally:
        ledger.close()


def test_the_binary_log_read_returns_what_eventsourcings_read_returns(
    ledger: Ledger, settings: Settings
) -> None:
    """The ledger reads its notification log in PostgreSQL's binary format; for every
    kind of query it must return exactly what eventsourcing's own (text) read returns,
    but for the personal values it opens (eventsourcing's read returns them sealed)."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    ledger.record(
        [intake.assess(canonical(emitter.build(DATA_ACCESSED, access_data()))) for _ in range(12)]
    )
    recorder = ledger.ledger_recorder
    access = next(n.topic for n in recorder.select_notifications(1, 100) if "DataAccess" in n.topic)
    queries = [
        dict(start=1, limit=100),
        dict(start=None, limit=5),
        dict(start=3, limit=4, inclusive_of_start=False),
        dict(start=2, limit=100, stop=9),
        dict(start=1, limit=100, topics=[access]),
        dict(start=4, limit=3, stop=12, topics=(access,), inclusive_of_start=False),
        dict(start=1000, limit=10),
    ]
    for query in queries:
        ours = recorder.select_notifications(**query)  # type: ignore[arg-type]
        theirs = PostgresApplicationRecorder.select_notifications(recorder, **query)  # type: ignore[arg-type]
        assert ours == opened(recorder, theirs), query
        assert any(is_sealed(n.state) for n in theirs) or not theirs
        assert all(type(n.state) is bytes for n in ours)
    assert len(recorder.select_notifications(1, 100)) > 12  # the query above read events


def opened(recorder: Any, events: Any) -> list[Any]:
    """Events as eventsourcing read them, with their personal values opened."""
    with recorder.datastore.get_connection() as conn:
        states = recorder._opened(
            conn, [(e.originator_id, e.originator_version, e.state) for e in events]
        )
    return [dataclasses.replace(e, state=s) for e, s in zip(events, states, strict=True)]


def test_the_binary_aggregate_read_returns_what_eventsourcings_read_returns(
    ledger: Ledger,
) -> None:
    from collections import Counter

    from eventsourcing.postgres import PostgresAggregateRecorder

    register_dwp(ledger)
    recorder = ledger.ledger_recorder
    versions = Counter(n.originator_id for n in recorder.select_notifications(1, 1000))
    originator_id, count = versions.most_common(1)[0]
    assert count >= 2  # registering a service and its key changes one aggregate twice
    queries = [
        dict(),
        dict(desc=True),
        dict(gt=1),
        dict(lte=1),
        dict(gt=0, lte=count, desc=True, limit=1),
        dict(limit=1),
    ]
    for query in queries:
        ours = recorder.select_events(originator_id, **query)  # type: ignore[arg-type]
        theirs = PostgresAggregateRecorder.select_events(recorder, originator_id, **query)  # type: ignore[arg-type]
        assert ours == opened(recorder, theirs), query
        assert ours and all(type(e.state) is bytes for e in ours)
