"""Sending to the ledger's ``ledger.submissions`` topic (needs the ``kafka`` extra)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Delivered:
    """Where the broker stored a record: the ledger tracks how far it has read each
    partition, so this says when the ledger has taken it."""

    topic: str
    partition: int
    offset: int


class NotDelivered(Exception):
    """Some records were not acknowledged by the broker after the producer's retries;
    send them again (the same bytes: the ledger records an event once)."""

    def __init__(self, failures: list[BaseException], sent: int) -> None:
        super().__init__(f"{len(failures)} of {sent} records were not delivered: {failures[0]}")
        self.failures = failures


class KafkaTransport:
    """Sends signed events to ``ledger.submissions`` with an idempotent producer.

    ``send`` only queues the record; :meth:`flush` waits until every queued record is
    acknowledged by all in-sync replicas, and raises :class:`NotDelivered` for those
    that failed after the producer's retries. The ledger's answer comes later, on
    ``ledger.rejected`` for a refusal.
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
        self._pending: list[Any] = []

    def send(self, key: bytes, value: bytes) -> None:
        self._pending.append(self.producer.send(self.topic, key=key, value=value))

    def flush(self) -> list[Delivered]:
        """Wait for every record sent since the last flush; where each was stored."""
        from kafka.errors import KafkaError

        self.producer.flush(timeout=30)
        pending, self._pending = self._pending, []
        delivered: list[Delivered] = []
        failures: list[BaseException] = []
        for future in pending:
            try:
                stored = future.get(timeout=30)
            except KafkaError as exc:
                failures.append(exc)
                continue
            delivered.append(Delivered(stored.topic, stored.partition, stored.offset))
        if failures:
            raise NotDelivered(failures, len(pending))
        return delivered

    def close(self) -> None:
        self.producer.close(timeout=10)
