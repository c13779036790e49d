"""The Kafka transport says where each record went, and never loses a failure quietly."""

from __future__ import annotations

import pytest
from kafka.errors import KafkaTimeoutError
from ledger_emitter import Delivered, KafkaTransport, NotDelivered


class _Future:
    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def get(self, timeout: float) -> object:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _Stored:
    def __init__(self, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset = "ledger.submissions", partition, offset


class _Producer:
    """Stands in for KafkaProducer: what each send will come to."""

    def __init__(self, outcomes: list[object]) -> None:
        self.outcomes = outcomes

    def send(self, topic: str, key: bytes, value: bytes) -> _Future:
        return _Future(self.outcomes.pop(0))

    def flush(self, timeout: float) -> None:
        pass


def transport(outcomes: list[object]) -> KafkaTransport:
    sending = KafkaTransport.__new__(KafkaTransport)
    sending.topic, sending.producer, sending._pending = (
        "ledger.submissions",
        _Producer(outcomes),
        [],
    )
    return sending


def test_flush_says_where_each_record_was_stored() -> None:
    sending = transport([_Stored(2, 40), _Stored(0, 7)])
    sending.send(b"k", b"one")
    sending.send(b"k", b"two")

    assert sending.flush() == [
        Delivered("ledger.submissions", 2, 40),
        Delivered("ledger.submissions", 0, 7),
    ]
    assert sending.flush() == []  # nothing pending any more


def test_flush_raises_for_records_the_broker_never_took() -> None:
    sending = transport([_Stored(1, 3), KafkaTimeoutError("no broker")])
    sending.send(b"k", b"one")
    sending.send(b"k", b"two")

    with pytest.raises(NotDelivered, match="1 of 2 records were not delivered") as refused:
        sending.flush()
    assert len(refused.value.failures) == 1
