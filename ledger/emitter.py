"""The service-side emitter: build a CloudEvent, sign it, send it to the ledger.

Services of public bodies use this (or any language, from the published schemas) to
report what they did. Ids are stable: pass the same ``event_id`` when retrying and the
ledger records the event once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from ledger import signing
from ledger.signing import SigningKey


class Transport(Protocol):
    def send(self, key: bytes, value: bytes) -> None: ...
    def flush(self) -> None: ...


def partition_key(event: Mapping[str, Any]) -> bytes:
    """Kafka record key: a hash of the first subject, so one citizen's events keep order."""
    subjects = event.get("data", {}).get("subjects") or [{"scheme": "none", "value": event["id"]}]
    first = subjects[0]
    return hashlib.sha256(f"{first['scheme']}:{first['value']}".encode()).hexdigest().encode()


class Emitter:
    """Builds and signs events for one service, and hands them to a transport."""

    def __init__(self, source: str, key: SigningKey, transport: Transport | None = None) -> None:
        self.source = source
        self.key = key
        self.transport = transport

    def build(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> dict[str, Any]:
        """A signed CloudEvent (structured JSON mode) as a dict."""
        occurred = (time or datetime.now(UTC)).astimezone(UTC)
        event = {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": self.source,
            "type": event_type,
            "time": occurred.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": dict(data),
        }
        return self.key.sign(event)

    def emit(self, event_type: str, data: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Build, sign and send one event; returns the signed event."""
        if self.transport is None:
            raise RuntimeError("this emitter has no transport")
        event = self.build(event_type, data, **kwargs)
        self.transport.send(partition_key(event), signing.canonical(event))
        return event


class KafkaTransport:
    """Sends signed events to ``ledger.submissions`` with an idempotent producer."""

    def __init__(self, bootstrap_servers: str, topic: str, **config: Any) -> None:
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
