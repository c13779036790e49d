"""No raw identifier anywhere the ledger writes: a run fed with valid and mistyped
identifiers, over Kafka and HTTP, then every table, every topic the ledger writes, every
log line and every HTTP answer is searched for them, as text and as hex."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from ledger_emitter import Emitter, canonical, partition_key
from psycopg import sql

from api.app import create_app
from cli.main import QUIET_LIBRARIES
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from tests.support.ledger import (
    access_data,
    register_dwp,
    running_publisher,
    running_worker,
    scalar,
    wait_until,
)
from tests.support.tokens import bearer
from tests.support.views import running_projections

pytestmark = pytest.mark.integration

# (scheme, value as a service sent it): two valid, the rest mistyped.
SENT = [
    ("nhs-number", "9434765919"),
    ("nino", "AB123456C"),
    ("nhs-number", "9434765918"),  # wrong check digit
    ("nhs-number", "943-476-5911"),  # wrong check digit, hyphenated
    ("nino", "AB-12-34-56-C"),
    ("nino", "QQ123456C"),  # a prefix HMRC never issues
    ("nino", "AB123456C\n"),
    ("nhs-number", "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19"),  # full width
    ("local", "leeds:ct-0001"),
]
# What must never appear in clear: every value sent, and its digits and letters alone.
SECRETS = {v.strip() for _, v in SENT} | {"".join(c for c in v if c.isalnum()) for _, v in SENT}


def events(emitter: Emitter, channel: str) -> list[dict[str, Any]]:
    """One signed access per identifier sent."""
    found = []
    for i, (scheme, value) in enumerate(SENT):
        data = access_data()
        data["subjects"] = [{"scheme": scheme, "value": value}]
        found.append(emitter.build(DATA_ACCESSED, data, event_id=f"scan-{channel}-{i}"))
    return found


def hexed(secret: str) -> str:
    return secret.encode().hex()


def found_in(text: str) -> set[str]:
    lowered = text.lower()
    return {s for s in SECRETS if s in text or hexed(s) in lowered}


def every_table(database_url: str) -> Iterator[tuple[str, str]]:
    """(table, row as text) of every row of every table the ledger and its views keep."""
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            name = sql.Identifier(schema, table)
            for (row,) in conn.execute(sql.SQL("SELECT t::text FROM {} t").format(name)):
                yield f"{schema}.{table}", row


def every_record(settings: Settings) -> Iterator[tuple[str, bytes]]:
    """(topic, value or header) of every record on the topics the ledger writes."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    for topic in (settings.topic_rejected, settings.topic_events):
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        for _ in range(6):
            for records in consumer.poll(500).values():
                for record in records:
                    yield topic, record.value or b""
                    for _, header in record.headers:
                        yield topic, header
    consumer.close()


@pytest.fixture
def emitter(settings: Settings) -> Emitter:
    ledger = Ledger.from_settings(settings)
    try:
        return register_dwp(ledger)
    finally:
        ledger.close()


def test_no_identifier_sent_is_written_anywhere_in_clear(
    settings: Settings, emitter: Emitter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every log line of the ledger, as its processes set them
    for library in QUIET_LIBRARIES:
        caplog.set_level(logging.WARNING, library)
    answers: list[str] = []
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for event in events(emitter, "kafka"):
        producer.send(settings.topic_submissions, key=partition_key(event), value=canonical(event))
    producer.flush()
    producer.close()
    dwp = bearer(settings, "service", organisation="DWP")
    alex = bearer(settings, "citizen", "nhs-number:9434765919")

    with (
        running_worker(settings),
        running_publisher(settings) as publisher,
        running_projections(settings),
        TestClient(create_app(settings)) as api,
    ):
        for event in events(emitter, "http"):  # the same, over HTTP
            answers.append(api.post("/v1/events", content=canonical(event), headers=dwp).text)
        for _, value in SENT:  # and asked for in paths and decisions
            path = f"/v1/citizens/nino:{quote(value)}/timeline"
            answers.append(api.get(path, headers=alex).text)
            question = {
                "sender": "DWP",
                "recipient": "HMRC",
                "subject": f"nino:{value}",
                "purpose": "uc-claim",
                "categories": ["income"],
            }
            answers.append(api.post("/v1/decisions/share", json=question, headers=dwp).text)
        total = 2 * len(SENT)
        wait_until(
            lambda: (
                scalar(
                    settings.database_url,
                    "SELECT (SELECT count(*) FROM ledger_refusals) + "
                    "(SELECT count(*) FROM ledger_submissions WHERE event_id LIKE 'scan-%%')",
                )
                == total
            ),
            60,
            "every submission recorded or refused",
        )
        refusals = scalar(settings.database_url, "SELECT max(refusal_id) FROM ledger_refusals")
        wait_until(
            lambda: publisher.position(settings.topic_rejected) >= refusals, 60, "dead letters"
        )

    recorded = scalar(
        settings.database_url, "SELECT count(*) FROM ledger_submissions WHERE source LIKE '%%dwp%%'"
    )
    assert recorded == 4  # the two valid identifiers, over Kafka and over HTTP
    leaks = {where: found_in(row) for where, row in every_table(settings.database_url)}
    leaks |= {f"topic {t}": found_in(v.decode("latin-1")) for t, v in every_record(settings)}
    leaks["logs"] = found_in(caplog.text)
    leaks["http answers"] = found_in("".join(answers))
    assert {where: found for where, found in leaks.items() if found} == {}
