"""The one write path's front half: from received bytes to a submission, or a refusal.

Pure: given the key registry, no I/O. The write path (``ledger.writing``) calls
:meth:`Intake.assess` for every submission, whatever its channel. It checks, in order:
size, nesting depth, strict JSON (and storable text), CloudEvent shape, known type and
version, signature present, key known, the caller's organisation (over HTTP), signature
valid, schema, time (not too far ahead or behind, and within the key's validity), signer
authorised for the source, type and organisation, a key it registers not registered
already; then pseudonymises the subjects and seals the bytes. Anything else is a
:class:`~ledger.refusals.Refusal` with a stable reason, whose detail never quotes what
was received. Invariants against recorded state are checked later, by the ledger, when
the changes are applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ledger_emitter import KEY_ID_ATTR, SIGNATURE_ATTR, b64url_decode, key_id_for

from ledger import jsontext, signing
from ledger.catalogue import (
    EVERY_ORGANISATION,
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    EventType,
    Received,
    Submission,
    event_type,
    parse_instant,
    schema_errors,
    violation,
)
from ledger.keyring import Keyring
from ledger.refusals import Reason, Refusal
from ledger.settings import Settings

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
DEFAULT_MAX_PAST = timedelta(days=366)


@dataclass(frozen=True)
class RegisteredKey:
    """A service's public key as the registry knows it.

    ``retired_at`` is when it stopped being valid (rotation or revocation): events that
    claim that time or later are refused; ``revoked`` says which of the two it was.
    """

    key_id: str
    public_key: bytes
    source: str
    organisation: str
    event_types: frozenset[str]
    valid_from: datetime
    retired_at: datetime | None = None
    revoked: bool = False


class KeyRegistry(Protocol):
    def key(self, key_id: str) -> RegisteredKey | None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    return parse_instant(text)


def _retires(
    type_name: str, data: dict[str, Any], at: datetime
) -> tuple[tuple[str, datetime, str], ...]:
    """The key a rotation or revocation takes out of use, from when, and the refusal."""
    if type_name == KEY_REVOKED:
        return ((str(data["key_id"]), at, Reason.REVOKED_KEY.value),)
    if type_name == KEY_ROTATED:
        return ((str(data["old_key_id"]), at, Reason.RETIRED_KEY.value),)
    return ()


class Intake:
    """Checks submissions against the contract and the key registry."""

    def __init__(
        self,
        registry: KeyRegistry,
        keyring: Keyring,
        *,
        max_bytes: int,
        max_future: timedelta | None,
        max_past: timedelta | None = DEFAULT_MAX_PAST,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self.max_bytes = max_bytes
        self.max_future = max_future
        self.max_past = max_past
        self.clock = clock

    @classmethod
    def from_settings(cls, registry: KeyRegistry, settings: Settings) -> Intake:
        return cls(
            registry,
            Keyring.from_settings(settings),
            max_bytes=settings.max_event_bytes,
            max_future=timedelta(seconds=settings.max_future_seconds),
            max_past=timedelta(seconds=settings.max_past_seconds),
        )

    def assess(
        self, raw: bytes, *, size: int | None = None, caller_organisation: str | None = None
    ) -> Submission:
        """Return the submission ``raw`` makes, or raise :class:`Refusal`.

        ``size``: the whole submission's size when ``raw`` is only its first bytes.
        ``caller_organisation``: the organisation an authenticated caller speaks for
        (HTTP); the event must then be signed by a key of that organisation."""
        total = len(raw) if size is None else size
        if total > self.max_bytes:
            raise Refusal(Reason.OVERSIZED, f"{total} bytes; the limit is {self.max_bytes}")
        if jsontext.too_deep(raw):
            raise Refusal(
                Reason.TOO_DEEP, f"objects and arrays nest more than {jsontext.MAX_DEPTH} deep"
            )
        event, canonical_text = self._parse(raw)
        kind = event_type(event["type"])
        key = self._authenticate(event, canonical_text, caller_organisation)
        errors = schema_errors(kind.name, event)
        if errors:
            raise violation(errors[0])
        occurred_at = self._check_time(event["time"], key)
        self._authorise(event, kind, key)
        self._check_new_key(kind.name, event["data"])
        sealed = self.keyring.seal(raw)
        received = Received(
            event, raw, hashlib.sha256(raw).hexdigest(), occurred_at, key.organisation, sealed
        )
        try:
            changes = tuple(kind.build(received, self.keyring))
        except ValueError:  # a value the schema allows but Python cannot read
            raise Refusal(
                Reason.SCHEMA_VIOLATION, "a value in data cannot be read", "/data"
            ) from None
        return Submission(
            source=event["source"],
            event_id=event["id"],
            event_type=kind.name,
            occurred_at=occurred_at,
            raw_sha256=received.raw_sha256,
            raw_sealed=sealed,
            changes=changes,
            signing_key=key.key_id,
            retires=_retires(kind.name, event["data"], occurred_at),
            content_sha256=signing.content_digest(event, canonical_text),
            organisation=key.organisation,
        )

    @staticmethod
    def _parse(raw: bytes) -> tuple[dict[str, Any], bytes | None]:
        """The event, and ``raw`` again when it is already the event's canonical form."""
        event = signing.parse_canonical(raw)
        canonical_text = None if event is signing.NOT_CANONICAL else raw
        if canonical_text is None:
            # Canonical text is ASCII with no escapes: only here can a string hold
            # U+0000 or a lone surrogate.
            try:
                event = signing.parse_json(raw)
            except UnicodeDecodeError:
                raise Refusal(Reason.MALFORMED_JSON, "the bytes are not UTF-8") from None
            except signing.DuplicateMember:
                raise Refusal(Reason.MALFORMED_JSON, "an object names a member twice") from None
            except (ValueError, RecursionError) as exc:
                raise Refusal(Reason.MALFORMED_JSON, _json_error(exc)) from None
            problem = jsontext.bad_text(event)
            if problem:
                raise Refusal(Reason.MALFORMED_JSON, problem)
        if not isinstance(event, dict):
            raise Refusal(Reason.NOT_A_CLOUDEVENT, "a CloudEvent is a JSON object")
        missing = [a for a in REQUIRED_ATTRIBUTES if not isinstance(event.get(a), str)]
        if missing:
            raise Refusal(Reason.NOT_A_CLOUDEVENT, f"missing attributes: {', '.join(missing)}")
        if event["specversion"] != "1.0":
            raise Refusal(Reason.NOT_A_CLOUDEVENT, "specversion must be 1.0", "/specversion")
        return event, canonical_text

    def _authenticate(
        self,
        event: dict[str, Any],
        canonical_text: bytes | None,
        caller_organisation: str | None,
    ) -> RegisteredKey:
        key_id = event.get(KEY_ID_ATTR)
        if not isinstance(key_id, str) or SIGNATURE_ATTR not in event:
            raise Refusal(Reason.BAD_SIGNATURE, "the event is unsigned (signingkey/signature)")
        key = self.registry.key(key_id)
        if key is None:
            raise Refusal(Reason.UNKNOWN_KEY, "the signing key is not registered", "/signingkey")
        if caller_organisation is not None and key.organisation != caller_organisation:
            # Judged before the signature: a caller learns nothing about another
            # organisation's events, and cannot file refusals against its key.
            raise Refusal(
                Reason.NOT_AUTHORISED,
                "the caller may submit only events signed by its own organisation's keys",
                "/signingkey",
            )
        if not signing.verify(event, key.public_key, canonical_text=canonical_text):
            raise Refusal(
                Reason.BAD_SIGNATURE,
                "the signature does not verify with the key the event names",
                "/signature",
            )
        return key

    @staticmethod
    def _authorise(event: dict[str, Any], kind: EventType, key: RegisteredKey) -> None:
        if event["source"] != key.source:
            raise Refusal(
                Reason.NOT_AUTHORISED,
                f"key {key.key_id} belongs to {key.source}, not this source",
                "/source",
            )
        if kind.name not in key.event_types:
            raise Refusal(Reason.NOT_AUTHORISED, f"{key.source} may not emit {kind.name}", "/type")
        acting = kind.acting(event["data"])
        if acting is not None and key.organisation not in (EVERY_ORGANISATION, *acting[0]):
            raise Refusal(
                Reason.NOT_AUTHORISED,
                f"{key.source} emits for {key.organisation}, not for the organisation named",
                acting[1],
            )

    def _check_new_key(self, type_name: str, data: dict[str, Any]) -> None:
        """A key registered or rotated to must be new: a public key is public, and one
        service must not take over another's."""
        if type_name != KEY_REGISTERED and type_name != KEY_ROTATED:
            return
        if self.registry.key(key_id_for(b64url_decode(data["public_key"]))) is not None:
            raise Refusal(
                Reason.INVARIANT_VIOLATED,
                "key-in-use: this public key is registered already; a key is one service's",
                "/data/public_key",
            )

    def _check_time(self, text: str, key: RegisteredKey) -> datetime:
        try:
            occurred_at = parse_time(text)
        except ValueError:
            raise Refusal(Reason.SCHEMA_VIOLATION, "is not an RFC 3339 time", "/time") from None
        if self.max_future is not None and self.max_past is not None:
            # (The audit sets no window: it judges what was signed, not when it came.)
            now = self.clock()
            if occurred_at > now + self.max_future:
                raise Refusal(
                    Reason.TIME_IN_FUTURE,
                    f"time is more than {int(self.max_future.total_seconds())} s ahead of "
                    "the ledger",
                    "/time",
                )
            if occurred_at < now - self.max_past:
                raise Refusal(
                    Reason.TIME_IN_PAST,
                    f"time is more than {self.max_past.days} days behind the ledger",
                    "/time",
                )
        if key.retired_at is not None and occurred_at >= key.retired_at:
            reason, what = (
                (Reason.REVOKED_KEY, "revoked") if key.revoked else (Reason.RETIRED_KEY, "rotated")
            )
            raise Refusal(
                reason, f"key {key.key_id} was {what} at {key.retired_at.isoformat()}", "/time"
            )
        return occurred_at


def _json_error(exc: BaseException) -> str:
    """Where strict JSON parsing failed, without the text around it."""
    if isinstance(exc, RecursionError):
        return "the JSON nests too deep to parse"
    position = getattr(exc, "pos", None)
    what = getattr(exc, "msg", None) or "not strict JSON"
    if isinstance(what, str) and "is not JSON" in what:
        what = "NaN and Infinity are not JSON"
    return f"{what} at character {position}" if position is not None else str(what)[:120]
