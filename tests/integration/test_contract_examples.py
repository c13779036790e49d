"""Every worked example of the published contract, sent through the real ingest path."""

from __future__ import annotations

import base64
import json
from typing import Any

import psycopg
import pytest
from ledger_emitter import KafkaTransport, canonical, partition_key
from psycopg import sql

from ledger.application import Ledger
from ledger.catalogue.examples import EXAMPLE_SOURCE
from ledger.keyring import Keyring
from ledger.settings import Settings
from tests.support.contract import RAW_IDENTIFIERS, example_worker, register_example_service, story
from tests.support.ledger import scalar, wait_until

pytestmark = pytest.mark.integration


def _stored_envelopes(ledger: Ledger, keyring: Keyring) -> list[bytes]:
    """The received bytes kept by every recorded event, opened."""
    opened = []
    for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
        state = json.loads(notification.state)
        sealed = state.get("envelope_sealed") or (state.get("submission") or {}).get(
            "envelope_sealed"
        )
        if sealed:
            opened.append(keyring.open(base64.b64decode(sealed)))
    return opened


def _every_value_in_every_table(database_url: str) -> list[tuple[str, bytes]]:
    found = []
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert tables
        for schema, table in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            for row in conn.execute(query).fetchall():
                for value in row:
                    blob = (
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else str(value).encode()
                    )
                    found.append((table, blob))
    return found


def _send(settings: Settings, events: list[tuple[dict[str, Any], bytes]]) -> None:
    transport = KafkaTransport(settings.kafka_bootstrap, settings.topic_submissions)
    try:
        for event, raw in events:
            transport.send(partition_key(event), raw)
        transport.flush()
    finally:
        transport.close()


def test_every_example_is_recorded_once_byte_identical_and_no_identifier_is_stored_in_clear(
    settings: Settings,
) -> None:
    setup = Ledger.from_settings(settings)
    register_example_service(setup)
    setup.close()
    examples = story()
    forged = dict(examples[8][1], data={**examples[8][1]["data"], "record": "medical history"})
    with example_worker(settings) as (worker, ledger):
        _send(settings, [(event, raw) for _, event, raw in examples])
        _send(settings, [(event, raw) for _, event, raw in examples])  # every one again
        _send(settings, [(forged, canonical(forged))])
        wait_until(
            lambda: (
                scalar(
                    settings.database_url,
                    "SELECT count(*) FROM ledger_submissions WHERE source = %s",
                    EXAMPLE_SOURCE,
                )
                == len(examples)
                and worker.stats.duplicates == len(examples)
                and sum(worker.stats.refused.values()) == 1
            ),
            timeout=60,
            what="every example recorded, every copy a duplicate, the forgery refused",
        )
        refusals = (
            psycopg.connect(settings.database_url)
            .execute("SELECT reason, channel FROM ledger_refusals")
            .fetchall()
        )
        assert refusals == [("bad-signature", "kafka")]
        envelopes = _stored_envelopes(ledger, Keyring.from_settings(settings))

    assert {raw for _, _, raw in examples} <= set(envelopes)
    leaks = [
        (table, identifier)
        for table, blob in _every_value_in_every_table(settings.database_url)
        for identifier in RAW_IDENTIFIERS
        if identifier.encode() in blob
    ]
    assert leaks == []
