"""What an ordinary, or hostile, submission can no longer do: stop a worker, wedge the
dead-letter publisher, store unbounded bytes, erase a record under a reused id, or file
refusals against another organisation's key. Each through the real entry points."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from ledger_emitter import Emitter, canonical

from api.app import create_app
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.keyring import Keyring
from ledger.settings import Settings
from projections.runner import run_projections
from tests.support.ledger import (
    access_data,
    dead_letters,
    register_dwp,
    running_publisher,
    running_worker,
    scalar,
    wait_until,
)
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

ACCESSES = "SELECT count(*) FROM ledger_events WHERE topic LIKE '%%DataAccess.Recorded'"
REFUSALS = "SELECT count(*) FROM ledger_refusals"


@pytest.fixture
def emitter(settings: Settings) -> Emitter:
    ledger = Ledger.from_settings(settings)
    try:
        return register_dwp(ledger)
    finally:
        ledger.close()


@pytest.fixture
def api(settings: Settings, emitter: Emitter) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings), headers=bearer(settings, "service", organisation="DWP")
    ) as client:
        yield client


def deeply_nested(emitter: Emitter, depth: int) -> bytes:
    """A CloudEvent with a registered key id and a well-formed signature, whose data
    nests ``depth`` levels (1.5 kB at a few hundred)."""
    event = emitter.build(DATA_ACCESSED, access_data())
    event["data"] = {"x": json.loads("[" * depth + "]" * depth)}
    return json.dumps(event).encode()


def send(settings: Settings, *records: bytes) -> None:
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=4_000_000
    )
    for record in records:
        producer.send(settings.topic_submissions, key=b"0000", value=record)
    producer.flush()
    producer.close()


def test_a_deeply_nested_record_is_refused_and_the_worker_carries_on(
    settings: Settings, emitter: Emitter
) -> None:
    valid = canonical(emitter.build(DATA_ACCESSED, access_data()))
    send(settings, deeply_nested(emitter, 400), valid)

    with running_worker(settings) as worker:
        wait_until(lambda: scalar(settings.database_url, ACCESSES) == 1, 30, "the valid event")
        assert worker.health.stuck_on is None
    assert scalar(settings.database_url, "SELECT reason FROM ledger_refusals") == "too-deep"


def test_a_deeply_nested_body_is_a_400_and_is_kept(api: TestClient, emitter: Emitter) -> None:
    answer = api.post("/v1/events", content=deeply_nested(emitter, 400))

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/too-deep")
    database_url = api.app.state.settings.database_url  # type: ignore[attr-defined]
    assert scalar(database_url, "SELECT reason || ' ' || channel FROM ledger_refusals") == (
        "too-deep http"
    )


def test_an_oversized_record_is_kept_bounded_and_does_not_wedge_the_dead_letters(
    settings: Settings, emitter: Emitter
) -> None:
    oversized = b'{"padding": "' + b"x" * 1_500_000 + b'"}'
    forged = emitter.build(DATA_ACCESSED, access_data())
    forged["data"]["record"] = "medical history"  # altered after signing
    send(settings, oversized, json.dumps(forged).encode())

    with running_worker(settings), running_publisher(settings):
        wait_until(lambda: scalar(settings.database_url, REFUSALS) == 2, 30, "two refusals")
        letters = dead_letters(settings, expected=2)

    kept = scalar(settings.database_url, "SELECT octet_length(raw_sealed) FROM ledger_refusals")
    assert kept < 5000  # its first 4,096 bytes, sealed: not 1.5 MB
    assert sorted(h["ledger-reason"] for _, h in letters) == [b"bad-signature", b"oversized"]
    (cut,) = [(value, h) for value, h in letters if h["ledger-reason"] == b"oversized"]
    assert Keyring.from_settings(settings).open(cut[0]) == oversized[:4096]
    assert cut[1]["ledger-truncated-from"] == str(len(oversized)).encode()


def test_a_chunked_body_is_cut_off_at_the_limit_and_kept_bounded(
    api: TestClient, settings: Settings
) -> None:
    def five_megabytes() -> Iterator[bytes]:
        for _ in range(80):
            yield b"x" * 65_536

    answer = api.post("/v1/events", content=five_megabytes())

    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/oversized")
    size, truncated, kept = (
        scalar(settings.database_url, f"SELECT {column} FROM ledger_refusals")
        for column in ("raw_size", "raw_truncated", "octet_length(raw_sealed)")
    )
    assert size > settings.max_event_bytes and truncated and kept < 5000


def test_other_content_under_a_recorded_id_is_refused_kept_and_flagged(
    api: TestClient, settings: Settings, emitter: Emitter
) -> None:
    first = emitter.build(DATA_ACCESSED, access_data(), event_id="reused-id")
    other = emitter.build(
        DATA_ACCESSED, {**access_data(), "record": "medical history"}, event_id="reused-id"
    )
    recorded = api.post("/v1/events", content=canonical(first))
    again = api.post("/v1/events", content=canonical(first))
    conflicting = api.post("/v1/events", content=canonical(other))

    assert recorded.status_code == 202 and again.json()["duplicate"] is True
    assert conflicting.status_code == 409
    assert conflicting.json()["type"].endswith("/conflicting-resend")
    assert scalar(settings.database_url, "SELECT reason FROM ledger_refusals") == (
        "conflicting-resend"
    )
    assert scalar(settings.database_url, ACCESSES) == 1  # the original stands, unaltered
    findings = _findings(settings, api)
    assert [(f["rule"], f["organisation"]) for f in findings] == [("conflicting-resend", "DWP")]


def test_a_caller_cannot_file_refusals_against_another_organisations_key(
    settings: Settings, emitter: Emitter
) -> None:
    forged = emitter.build(DATA_ACCESSED, access_data())  # signed by a DWP key
    forged["data"]["record"] = "medical history"
    hmrc = bearer(settings, "service", organisation="HMRC")
    with TestClient(create_app(settings), headers=hmrc) as api:
        answer = api.post("/v1/events", content=json.dumps(forged).encode())

    assert answer.status_code == 403 and answer.json()["type"].endswith("/not-authorised")
    row = scalar(settings.database_url, "SELECT reason || ' by ' || caller FROM ledger_refusals")
    assert row.startswith("not-authorised by HMRC/")


def _findings(settings: Settings, api: TestClient) -> list[dict[str, Any]]:
    """The compliance findings, once the views have caught up with the ledger."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=run_projections, args=(settings, stop), daemon=True)
    thread.start()
    auditor = bearer(settings, "auditor")
    try:
        found: list[dict[str, Any]] = []

        def ready() -> bool:
            found[:] = api.get("/v1/findings", headers=auditor).json()["findings"]
            return bool(found)

        wait_until(ready, 30, "the findings view")
        return found
    finally:
        stop.set()
        thread.join(timeout=30)
