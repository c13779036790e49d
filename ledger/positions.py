"""The names under which the ledger tracks how far it has got in each stream: every Kafka
partition it reads (per topic incarnation), and every outbox it publishes."""

from __future__ import annotations


def stream_name(topic: str, incarnation: str, partition: int) -> str:
    """A partition of a Kafka topic the ledger reads, in one incarnation of the topic."""
    return f"kafka:{topic}@{incarnation}:{partition}"


def outbox_name(topic: str) -> str:
    """The outbox published to ``topic`` (``ledger.events``, ``ledger.rejected``)."""
    return f"outbox:{topic}"
