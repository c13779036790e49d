"""Build a CloudEvent, sign it, and hand its canonical bytes to a transport."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from ledger_emitter.jcs import canonical
from ledger_emitter.ordering import partition_key
from ledger_emitter.signing import SigningKey

# Namespace of stable event ids (UUIDv5 of the source and a natural key).
EVENT_ID_NAMESPACE = uuid.UUID("1b1e5a3c-6a43-5a0e-9b0f-3c1f0d2e8a71")


def stable_id(source: str, *natural_key: str) -> str:
    """An event id that is the same every time the same fact is reported."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "\n".join((source, *natural_key))))


class Transport(Protocol):
    """Where signed events go: Kafka (:class:`~ledger_emitter.KafkaTransport`) or HTTP
    (:class:`~ledger_emitter.HttpTransport`)."""

    def send(self, key: bytes, value: bytes) -> object: ...
    def flush(self) -> object: ...


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
        event = self.build(event_type, data, **kwargs)
        self.send(event)
        return event

    def send(self, event: Mapping[str, Any]) -> object:
        """Send a signed event as canonical JSON; returns what the transport answers."""
        if self.transport is None:
            raise RuntimeError("this emitter has no transport")
        return self.transport.send(partition_key(event), canonical(dict(event)))
