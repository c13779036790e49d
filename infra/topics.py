"""Topic creation with explicit partition counts (replication factor 1)."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError, for_code

_ALREADY_EXISTS = TopicAlreadyExistsError.errno


class PartitionCountMismatch(RuntimeError):
    """An existing topic has a different partition count than configured."""

    def __init__(self, topic: str, actual: int, expected: int) -> None:
        """Name the topic and both counts in the message."""
        super().__init__(
            f"topic {topic!r} exists with {actual} partitions, but {expected} are configured"
        )
        self.topic, self.actual, self.expected = topic, actual, expected


def ready_partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition count of each named topic that exists and has a leader on every partition."""
    counts: dict[str, int] = {}
    for topic in admin.describe_topics(names):
        parts: list[dict[str, Any]] = topic.get("partitions") or []
        if topic.get("error_code", 0) != 0 or not parts:
            continue
        if all(p.get("error_code", 0) == 0 and p.get("leader_id", -1) >= 0 for p in parts):
            counts[topic["name"]] = len(parts)
    return counts


def _check_counts(counts: dict[str, int], partitions: dict[str, int]) -> None:
    for name, actual in counts.items():
        if actual != partitions[name]:
            raise PartitionCountMismatch(name, actual, partitions[name])


def ensure_topics(
    bootstrap_servers: str, partitions: dict[str, int], timeout: float = 30.0
) -> set[str]:
    """Create the missing topics, wait until metadata shows all of them, and return the
    names this call created (a consumer's stored offsets for those mean nothing now).

    Idempotent; safe to race with another process creating the same topics. Raises
    :class:`PartitionCountMismatch` if a topic exists with another partition count (it is
    never changed here: repartitioning moves keys between partitions and breaks per-key
    order) and :class:`TimeoutError` if the topics do not appear within ``timeout`` s.
    """
    if not partitions:
        return set()
    for name, count in partitions.items():
        if count < 1:
            raise ValueError(f"topic {name!r}: partition count must be >= 1, got {count}")
    deadline = time.monotonic() + timeout
    names = list(partitions)
    timeout_ms = max(1000, int(timeout * 1000))
    # api_version is autodetected: Tansu reports 3.9; forcing (2, 5) breaks metadata parsing.
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="infra-topics",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    )
    try:
        existing = ready_partition_counts(admin, names)
        _check_counts(existing, partitions)
        missing = {n: {"num_partitions": c, "replication_factor": 1} for n, c in partitions.items()}
        for name in existing:
            del missing[name]
        created: set[str] = set()
        if missing:
            result = admin.create_topics(missing, timeout_ms=timeout_ms, raise_errors=False)
            for topic in result["topics"]:
                code = topic["error_code"]
                # Already exists = another process won the race; its count is checked below.
                if code not in (0, _ALREADY_EXISTS):
                    error = for_code(code).__name__
                    raise RuntimeError(f"creating topic {topic['name']!r} failed: {error}")
                if code == 0:
                    created.add(topic["name"])
        while True:
            counts = ready_partition_counts(admin, names)
            _check_counts(counts, partitions)
            if len(counts) == len(names):
                return created
            if time.monotonic() >= deadline:
                absent = sorted(set(names) - set(counts))
                raise TimeoutError(f"topics not ready after {timeout:g} s: {', '.join(absent)}")
            time.sleep(0.05)
    finally:
        admin.close()


def topic_ids(bootstrap_servers: str, names: list[str], timeout: float = 10.0) -> dict[str, str]:
    """The broker's topic id of each named topic that exists (Kafka 2.8+ and the embedded
    broker name one; a topic deleted and created again gets a new one)."""
    timeout_ms = max(1000, int(timeout * 1000))
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="infra-topic-ids",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    )
    try:
        return {
            topic["name"]: str(topic["topic_id"])
            for topic in admin.describe_topics(names)
            if topic.get("error_code", 0) == 0 and topic.get("topic_id")
        }
    finally:
        admin.close()
