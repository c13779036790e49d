"""The ingest worker's two stages: one poll assessed while the previous one is written.

A poll that changes the key registry is a barrier: the next poll is assessed only after
it is recorded, so an event signed with a key revoked in the previous poll is refused,
as it would be without the pipeline. With one record per poll, every record is its own
poll, and the revocation and the event after it are in consecutive ones.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import psycopg
import pytest
from ledger_emitter import Emitter, KafkaTransport, canonical

from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED, KEY_REVOKED
from ledger.catalogue.examples import EXAMPLE_SOURCE, published_test_key, signed_story
from ledger.settings import Settings
from tests.support.contract import EXAMPLE_NOW, example_worker, register_example_service
from tests.support.ledger import scalar, wait_until

pytestmark = pytest.mark.integration

ACCESS = dict(signed_story())["data-accessed.v1.json"]["data"]
BEFORE, AT, AFTER = (EXAMPLE_NOW - timedelta(hours=h) for h in (3, 2, 1))
REFUSED = "SELECT reason FROM ledger_refusals ORDER BY refusal_id"
ACCESSES = "SELECT count(*) FROM ledger_events WHERE topic LIKE '%DataAccess.Recorded'"


def test_a_key_revoked_in_one_poll_refuses_events_in_the_next(settings: Settings) -> None:
    settings = dataclasses.replace(settings, ingest_batch=1)  # a poll per record
    ledger = Ledger.from_settings(settings)
    register_example_service(ledger)
    ledger.close()
    key = published_test_key()
    emitter = Emitter(EXAMPLE_SOURCE, key)
    revocation = emitter.build(
        KEY_REVOKED,
        {"service": EXAMPLE_SOURCE, "key_id": key.key_id, "reason": "laptop stolen"},
        event_id="revoke",
        time=AT,
    )
    sent = [
        emitter.build(DATA_ACCESSED, ACCESS, event_id="before", time=BEFORE),
        revocation,
        emitter.build(DATA_ACCESSED, ACCESS, event_id="after-1", time=AFTER),
        emitter.build(DATA_ACCESSED, ACCESS, event_id="after-2", time=AFTER),
    ]
    transport = KafkaTransport(settings.kafka_bootstrap, settings.topic_submissions)
    for event in sent:  # one key: one partition, in this order
        transport.send(b"one-key", canonical(event))
    transport.flush()

    with example_worker(settings):
        wait_until(
            lambda: scalar(settings.database_url, "SELECT count(*) FROM ledger_refusals") == 2,
            what="both late events refused",
        )

    assert scalar(settings.database_url, ACCESSES) == 1  # only the one signed before
    with psycopg.connect(settings.database_url) as conn:
        reasons = [row[0] for row in conn.execute(REFUSED).fetchall()]
    assert reasons == ["revoked-key", "revoked-key"]
