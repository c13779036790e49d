"""The one write path's front half: from received bytes to an aggregate, or a refusal.

Kafka and HTTP entry points both call :meth:`Intake.assess`. It checks, in order: size,
strict JSON, CloudEvent shape, known type, signature present, key known, signature
valid, schema, signer authorised, time; then builds the aggregate that records the
event. Anything else is a :class:`~ledger.refusals.Refusal` with a stable reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from eventsourcing.domain import Aggregate

from ledger import signing
from ledger.catalogue import CATALOGUE, Received
from ledger.keyring import Keyring
from ledger.refusals import Reason, Refusal

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")


@dataclass(frozen=True)
class RegisteredKey:
    """A service's public key as the registry knows it."""

    key_id: str
    public_key: bytes
    source: str
    organisation: str
    event_types: frozenset[str]
    valid_from: datetime


class KeyRegistry(Protocol):
    def key(self, key_id: str) -> RegisteredKey | None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("time has no offset")
    return value.astimezone(UTC)


class Intake:
    """Checks submissions against the contract and the key registry."""

    def __init__(
        self,
        registry: KeyRegistry,
        keyring: Keyring,
        *,
        max_bytes: int,
        max_future: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self.max_bytes = max_bytes
        self.max_future = max_future
        self.clock = clock

    def assess(self, raw: bytes) -> Aggregate:
        """Return the aggregate recording ``raw``, or raise :class:`Refusal`."""
        if len(raw) > self.max_bytes:
            raise Refusal(Reason.OVERSIZED, f"{len(raw)} bytes; the limit is {self.max_bytes}")
        event = self._parse(raw)
        kind = CATALOGUE.get(event["type"])
        if kind is None:
            raise Refusal(Reason.UNKNOWN_TYPE, f"type {event['type']!r} is not in the catalogue")
        key = self._authenticate(event)
        errors = sorted(kind.validator.iter_errors(event), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            pointer = "".join(f"/{part}" for part in first.absolute_path)
            raise Refusal(Reason.SCHEMA_VIOLATION, first.message[:300], pointer or "/")
        self._authorise(event, key)
        occurred_at = self._check_time(event["time"])
        received = Received(event, raw, hashlib.sha256(raw).hexdigest(), occurred_at)
        return kind.build(received, self.keyring)

    @staticmethod
    def _parse(raw: bytes) -> dict[str, Any]:
        try:
            event = signing.parse_json(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refusal(Reason.MALFORMED_JSON, str(exc)[:200]) from None
        if not isinstance(event, dict):
            raise Refusal(Reason.NOT_A_CLOUDEVENT, "a CloudEvent is a JSON object")
        missing = [a for a in REQUIRED_ATTRIBUTES if not isinstance(event.get(a), str)]
        if missing:
            raise Refusal(Reason.NOT_A_CLOUDEVENT, f"missing attributes: {', '.join(missing)}")
        if event["specversion"] != "1.0":
            raise Refusal(Reason.NOT_A_CLOUDEVENT, "specversion must be 1.0")
        return event

    def _authenticate(self, event: dict[str, Any]) -> RegisteredKey:
        key_id = event.get(signing.KEY_ID_ATTR)
        if not isinstance(key_id, str) or signing.SIGNATURE_ATTR not in event:
            raise Refusal(Reason.BAD_SIGNATURE, "the event is unsigned (signingkey/signature)")
        key = self.registry.key(key_id)
        if key is None:
            raise Refusal(Reason.UNKNOWN_KEY, f"signing key {key_id[:48]!r} is not registered")
        if not signing.verify(event, key.public_key):
            raise Refusal(Reason.BAD_SIGNATURE, f"signature does not verify with key {key_id}")
        return key

    @staticmethod
    def _authorise(event: dict[str, Any], key: RegisteredKey) -> None:
        if event["source"] != key.source:
            raise Refusal(
                Reason.NOT_AUTHORISED, f"key {key.key_id} belongs to {key.source}, not this source"
            )
        if event["type"] not in key.event_types:
            raise Refusal(Reason.NOT_AUTHORISED, f"{key.source} may not emit {event['type']}")
        accessor = event["data"].get("accessor", {}).get("organisation")
        if accessor is not None and accessor != key.organisation:
            raise Refusal(
                Reason.NOT_AUTHORISED,
                f"{key.source} emits for {key.organisation}, not {accessor}",
                "/data/accessor/organisation",
            )

    def _check_time(self, text: str) -> datetime:
        try:
            occurred_at = parse_time(text)
        except ValueError as exc:
            raise Refusal(Reason.SCHEMA_VIOLATION, f"time: {exc}", "/time") from None
        if occurred_at > self.clock() + self.max_future:
            raise Refusal(
                Reason.TIME_IN_FUTURE,
                f"time is more than {int(self.max_future.total_seconds())} s ahead of the ledger",
                "/time",
            )
        return occurred_at
