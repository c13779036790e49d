"""Sending to the ledger's ``ledger.submissions`` topic (needs the ``kafka`` extra)."""

from __future__ import annotations

from typing import Any


class KafkaTransport:
    """Sends signed events to ``ledger.submissions`` with an idempotent producer.

    ``send`` only queues the record; :meth:`flush` waits until every queued record is
    acknowledged by all in-sync replicas or has failed after the producer's retries.
    The ledger's answer comes later, on ``ledger.rejected`` for a refusal.
    """

    def __init__(self, bootstrap_servers: str, topic: str, **config: Any) -> None:
        # Imported here so that HTTP-only services need not install kafka-python.
        from kafka import KafkaProducer

        self.topic = topic
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            retries=10,
            **config,
        )

    def send(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.topic, key=key, value=value)

    def flush(self) -> None:
        self.producer.flush(timeout=30)

    def close(self) -> None:
        self.producer.close(timeout=10)
