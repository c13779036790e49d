"""Signed events from a demo service, sent to a running ledger through Kafka in the
background, keeping the ids of those the broker acknowledged (acks=all, idempotent)."""

from __future__ import annotations

import threading
from pathlib import Path

from kafka import KafkaProducer
from kafka.errors import KafkaError
from ledger_emitter import Emitter, SigningKey, canonical, partition_key

from ledger.catalogue import DATA_ACCESSED
from tests.support.ledger import access_data
from tests.support.stream import nhs_numbers

DEMO_SOURCE = "urn:ledger:service:dwp:uc-case-system"
ROUND = 20  # events sent, then waited for, at a time


def demo_emitter(home: Path) -> Emitter:
    """The demo's DWP service, with the key `ledger run` registered for it."""
    seed = (home / "demo-keys" / "uc-case-system.seed").read_text().strip()
    return Emitter(DEMO_SOURCE, SigningKey(bytes.fromhex(seed)))


class AcknowledgedStream:
    """Sends rounds of events until stopped; ``acknowledged`` holds what Kafka took."""

    def __init__(self, emitter: Emitter, bootstrap: str, topic: str, prefix: str) -> None:
        self.emitter, self.bootstrap, self.topic, self.prefix = emitter, bootstrap, topic, prefix
        self.acknowledged: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, name="stream", daemon=True)

    def __enter__(self) -> AcknowledgedStream:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the stream did not stop"

    def _send(self) -> None:
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        people = nhs_numbers(50)
        sent = 0
        try:
            while not self._stop.is_set():
                futures = {}
                for i in range(sent, sent + ROUND):
                    event = self.emitter.build(
                        DATA_ACCESSED, access_data(people[i % 50]), event_id=f"{self.prefix}{i}"
                    )
                    value = canonical(event)
                    futures[event["id"]] = producer.send(
                        self.topic, key=partition_key(event), value=value
                    )
                sent += ROUND
                producer.flush(timeout=30)
                for event_id, future in futures.items():
                    try:
                        future.get(timeout=30)
                    except KafkaError:
                        continue  # not acknowledged: the ledger need not hold it
                    self.acknowledged.add(event_id)
                self._stop.wait(0.05)
        finally:
            producer.close(timeout=10)
