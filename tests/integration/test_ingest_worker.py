"""The ingest worker against a real broker and PostgreSQL: accept, refuse, resume."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterator

import pytest
from ledger_emitter import Emitter, KafkaTransport, canonical

from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.keyring import Keyring
from ledger.settings import Settings
from tests.support.ledger import (
    access_data,
    dead_letters,
    register_dwp,
    running_publisher,
    running_worker,
    scalar,
    wait_until,
)
from tests.support.stream import progress

pytestmark = pytest.mark.integration

ACCESSES = "SELECT count(*) FROM ledger_events WHERE topic LIKE '%DataAccess.Recorded'"
REFUSALS = "SELECT count(*) FROM ledger_refusals"


@pytest.fixture
def emitter(settings: Settings) -> Iterator[Emitter]:
    ledger = Ledger.from_settings(settings)
    emitter = register_dwp(ledger)
    ledger.close()
    transport = KafkaTransport(settings.kafka_bootstrap, settings.topic_submissions)
    emitter.transport = transport
    yield emitter
    transport.close()


def test_a_signed_access_is_recorded_once_with_its_partition_and_offset(
    settings: Settings, emitter: Emitter
) -> None:
    emitter.emit(DATA_ACCESSED, access_data())
    emitter.transport.flush()  # type: ignore[union-attr]

    with running_worker(settings):
        wait_until(lambda: scalar(settings.database_url, ACCESSES) == 1, what="the access")
        wait_until(
            lambda: (
                scalar(
                    settings.database_url,
                    "SELECT count(*) FROM ledger_tracking WHERE application_name LIKE 'kafka:%%'",
                )
                == 1
            ),
            what="the tracked Kafka position",
        )

    tracked = scalar(
        settings.database_url,
        "SELECT notification_id FROM ledger_tracking WHERE application_name LIKE %s",
        f"kafka:{settings.topic_submissions}@%",
    )
    assert tracked == 0  # the first record of its partition


def test_a_forged_event_is_refused_stored_and_dead_lettered_with_its_reason(
    settings: Settings, emitter: Emitter
) -> None:
    forged = emitter.build(DATA_ACCESSED, access_data())
    forged["data"]["record"] = "medical history"  # changed after signing
    raw = json.dumps(forged).encode()
    emitter.transport.send(b"k", raw)  # type: ignore[union-attr]
    emitter.transport.flush()  # type: ignore[union-attr]

    with running_worker(settings), running_publisher(settings):
        wait_until(lambda: scalar(settings.database_url, REFUSALS) == 1, what="the refusal")
        [(value, headers)] = dead_letters(settings, expected=1)

    assert scalar(settings.database_url, ACCESSES) == 0
    assert scalar(settings.database_url, "SELECT reason FROM ledger_refusals") == "bad-signature"
    # Sealed: only the ledger's secret opens it; the sender finds it by its hash.
    assert raw not in value and Keyring.from_settings(settings).open(value) == raw
    assert headers["ledger-received-sha256"] == hashlib.sha256(raw).hexdigest().encode()
    assert headers["ledger-reason"] == b"bad-signature"
    assert headers["ledger-source-topic"] == settings.topic_submissions.encode()
    assert b"signature does not verify" in headers["ledger-detail"]


def test_malformed_and_unknown_input_is_refused_without_blocking_the_partition(
    settings: Settings, emitter: Emitter
) -> None:
    transport = emitter.transport
    assert transport is not None
    for raw in (b"{not json", b"[]", json.dumps({"specversion": "1.0"}).encode(), b""):
        transport.send(b"same-key", raw)
    emitter.emit(DATA_ACCESSED, access_data())
    transport.flush()

    with running_worker(settings):
        wait_until(lambda: scalar(settings.database_url, ACCESSES) == 1, what="the good event")
        wait_until(lambda: scalar(settings.database_url, REFUSALS) == 4, what="4 refusals")

    reasons = scalar(
        settings.database_url,
        "SELECT string_agg(reason, ',' ORDER BY refusal_id) FROM ledger_refusals",
    )
    assert reasons == "malformed-json,not-a-cloudevent,not-a-cloudevent,malformed-json"


def test_a_new_worker_resumes_from_the_position_tracked_in_postgres(
    settings: Settings, emitter: Emitter
) -> None:
    for _ in range(3):
        emitter.emit(DATA_ACCESSED, access_data())
    emitter.transport.flush()  # type: ignore[union-attr]
    with running_worker(settings):
        wait_until(lambda: scalar(settings.database_url, ACCESSES) == 3, what="3 accesses")

    for _ in range(2):
        emitter.emit(DATA_ACCESSED, access_data())
    emitter.transport.flush()  # type: ignore[union-attr]
    # A new consumer group has no committed Kafka offsets: it starts from the earliest
    # record, so only the positions tracked in PostgreSQL stop it from doubling events.
    fresh_group = dataclasses.replace(settings, ingest_group=f"other.{uuid.uuid4().hex[:6]}")
    with running_worker(fresh_group):
        wait_until(lambda: scalar(settings.database_url, ACCESSES) == 5, what="5 accesses")
        wait_until(lambda: progress(settings) == 5, what="all 5 offsets tracked")

    assert scalar(settings.database_url, ACCESSES) == 5


def test_a_resent_event_with_the_same_id_is_recorded_once(
    settings: Settings, emitter: Emitter
) -> None:
    event = emitter.build(DATA_ACCESSED, access_data(), event_id="retry-me")
    for _ in range(3):  # a service retrying after a timeout
        emitter.transport.send(b"k", canonical(event))  # type: ignore[union-attr]
    emitter.transport.flush()  # type: ignore[union-attr]

    with running_worker(settings):
        wait_until(lambda: progress(settings) == 3, what="all three records consumed")

    assert scalar(settings.database_url, ACCESSES) == 1


def test_the_worker_reports_its_work_and_lag_to_prometheus(
    settings: Settings, emitter: Emitter
) -> None:
    import dataclasses
    import urllib.request

    from cli.processes import serve_metrics
    from infra.ports import free_port

    forged = emitter.build(DATA_ACCESSED, access_data())
    forged["data"]["record"] = "changed after signing"
    transport = emitter.transport
    assert transport is not None
    for _ in range(2):
        emitter.emit(DATA_ACCESSED, access_data())
    transport.send(b"k", json.dumps(forged).encode())
    transport.flush()
    port = free_port()

    with running_worker(settings) as worker:
        serve_metrics(
            worker.metrics.registry,
            dataclasses.replace(settings, metrics_host="127.0.0.1", metrics_port=port),
        )
        wait_until(
            lambda: (
                scalar(settings.database_url, ACCESSES) == 2
                and scalar(settings.database_url, REFUSALS) == 1
            ),
            what="the three submissions",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
            text = response.read().decode()

    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["ledger_ingest_events_appended_total"] == 2
    assert samples['ledger_ingest_events_refused_total{reason="bad-signature"}'] == 1
    assert samples["ledger_ingest_batch_seconds_count"] >= 1
    lags = [v for k, v in samples.items() if k.startswith("ledger_ingest_lag_records{")]
    assert lags and all(lag == 0 for lag in lags)
