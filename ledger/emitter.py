"""The service-side emitter SDK: build a CloudEvent, sign it, send it to the ledger.

Services of public bodies use this (or any language, from the published contract in
``docs/contract/``) to report what they did, over Kafka (``ledger.submissions``) or
HTTP (``POST /v1/events``). Ids are stable: derive them with :func:`stable_id` from
what the event is about, or pass the same ``event_id`` when retrying, and the ledger
records the event once (a duplicate is not an error).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ledger import signing
from ledger.catalogue import record_key
from ledger.signing import SigningKey

# Namespace of stable event ids (UUIDv5 of the source and a natural key).
EVENT_ID_NAMESPACE = uuid.UUID("1b1e5a3c-6a43-5a0e-9b0f-3c1f0d2e8a71")


def stable_id(source: str, *natural_key: str) -> str:
    """An event id that is the same every time the same fact is reported."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "\n".join((source, *natural_key))))


class Transport(Protocol):
    def send(self, key: bytes, value: bytes) -> object: ...
    def flush(self) -> None: ...


def partition_key(event: Mapping[str, Any]) -> bytes:
    """Kafka record key: events about one aggregate (one citizen's consents, one request,
    one service's keys) share it, so they keep their order."""
    return record_key(dict(event))


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
        return self.transport.send(partition_key(event), signing.canonical(dict(event)))


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


@dataclass(frozen=True)
class Receipt:
    """The ledger's answer to an accepted event: where it is in the ledger."""

    id: str
    position: int
    duplicate: bool


class Refused(Exception):
    """The ledger refused the event; ``reason`` is the stable code (never retried)."""

    def __init__(self, reason: str, detail: str, problem: dict[str, Any]) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.problem = problem


class HttpTransport:
    """Sends signed events to ``POST {base_url}/v1/events``.

    Connection failures and 5xx/429 answers are retried with exponential back-off
    (safe: the same bytes carry the same id, so a retry is at worst a duplicate);
    a problem-details refusal is raised as :class:`Refused`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        attempts: int = 5,
        backoff: float = 0.2,
        timeout: float = 10,
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/events"
        # The bearer token of the service role: the API checks the caller may emit for
        # the organisation, on top of the event's own signature.
        self.headers = {"Content-Type": "application/cloudevents+json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout

    def send(self, key: bytes, value: bytes) -> Receipt:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return self._post(value)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                retryable = (
                    not isinstance(exc, urllib.error.HTTPError)
                    or exc.code >= 500
                    or (exc.code == 429)
                )
                if not retryable or attempt == self.attempts:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _post(self, value: bytes) -> Receipt:
        request = urllib.request.Request(  # noqa: S310 (the ledger's own URL, http or https)
            self.url,
            data=value,
            method="POST",
            headers=self.headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.load(response)
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code != 429:
                problem = json.loads(error.read() or b"{}")
                reason = str(problem.get("type", "")).rsplit("/", 1)[-1]
                raise Refused(reason, str(problem.get("detail", "")), problem) from None
            raise
        return Receipt(body["id"], int(body["position"]), bool(body.get("duplicate", False)))

    def flush(self) -> None:
        """Nothing is buffered: each send waits for the ledger's answer."""
