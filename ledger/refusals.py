"""Why a submission was refused: stable reason codes, shared by every entry point, and
the bounded record the ledger keeps of each refusal.

The codes appear in dead-letter headers (``ledger-reason``), in HTTP problem details
(``type`` ends with the code) and in the stored refusal. Never rename one.

Only what is not authentic, not well-formed, or impossible given what the ledger
already holds is refused. A well-formed event that breaks *policy* (a share with no
agreement, no consent, an opt-out) is recorded, not refused: "Recording is not
judging" (DESIGN.md).

A refusal's detail never quotes what was received: it names the rule, the member (as a
JSON pointer) and the limit, so a mistyped identifier never lands in a table, a header
or an HTTP answer in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

# What is kept of a refused submission: all of it up to this size, else its first bytes
# (sealed either way). Bounded so that a dead letter always fits what a Kafka producer
# may send (1 MiB by default), whatever LEDGER_MAX_EVENT_BYTES is.
MAX_KEPT_BYTES = 256 * 1024
# What is kept of a submission refused for its size: enough to see what it was.
OVERSIZED_KEPT_BYTES = 4096
# Longest detail and pointer stored (and sent in headers and problem details).
MAX_DETAIL_CHARS = 300
MAX_POINTER_CHARS = 200


class Reason(StrEnum):
    """Stable reason codes, in the order the intake checks them."""

    OVERSIZED = "oversized"
    # Nested deeper than the contract allows (an object or array in an object or array...).
    TOO_DEEP = "too-deep"
    MALFORMED_JSON = "malformed-json"
    NOT_A_CLOUDEVENT = "not-a-cloudevent"
    UNKNOWN_TYPE = "unknown-type"
    UNKNOWN_VERSION = "unknown-version"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    SCHEMA_VIOLATION = "schema-violation"
    INVALID_SUBJECT = "invalid-subject"
    NOT_AUTHORISED = "not-authorised"
    TIME_IN_FUTURE = "time-in-future"
    TIME_IN_PAST = "time-in-past"
    # The key was revoked before the time the event claims.
    REVOKED_KEY = "revoked-key"
    # The key was replaced (rotated) before the time the event claims.
    RETIRED_KEY = "retired-key"
    # The event is authentic and well-formed but impossible in the state its aggregate
    # is in (e.g. withdrawing a consent never given, answering a closed request).
    INVARIANT_VIOLATED = "invariant-violated"
    # The same (source, id) is already recorded with other content: an id reused.
    CONFLICTING_RESEND = "conflicting-resend"
    # The ledger could not assess or record this submission (a fault of the ledger's,
    # not of the event): it is kept, sealed, so it can be submitted again once fixed.
    UNPROCESSABLE = "unprocessable"


@dataclass(eq=False)  # not frozen: raising sets __traceback__, even through `with` blocks
class Refusal(Exception):
    """A submission is refused; ``detail`` says precisely why, without personal data."""

    reason: Reason
    detail: str
    pointer: str = ""

    def __str__(self) -> str:
        where = f" at {self.pointer}" if self.pointer else ""
        return f"{self.reason}: {self.detail}{where}"


def printable(text: str, limit: int) -> str:
    """``text`` safe to store and to send in a header: printable, one line, bounded."""
    cleaned = "".join(c if c.isprintable() else "\ufffd" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "\u2026"


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    """A refused submission as the ledger keeps it: the reason, where it came from, and
    what was received, bounded and sealed.

    ``kept_sealed`` is the received bytes (all of them up to :data:`MAX_KEPT_BYTES`, the
    first :data:`OVERSIZED_KEPT_BYTES` of an oversized one) encrypted at rest;
    ``received_sha256`` is the SHA-256 of those kept bytes and ``received_size`` the size
    of the whole submission when known, so a truncated copy says so.
    """

    reason: str
    detail: str
    pointer: str
    received_at: datetime
    received_sha256: str
    received_size: int | None
    truncated: bool
    kept_sealed: bytes
    channel: str  # "kafka", "http" or "direct"
    topic: str | None = None
    incarnation: str | None = None
    partition: int | None = None
    offset: int | None = None
    request_id: str | None = None
    caller: str | None = None  # who sent it over HTTP: the token's organisation and subject

    @staticmethod
    def kept_part(raw: bytes, reason: Reason | str) -> bytes:
        """What is kept of ``raw`` when it is refused for ``reason``."""
        limit = OVERSIZED_KEPT_BYTES if reason == Reason.OVERSIZED else MAX_KEPT_BYTES
        return raw[:limit]


def received_now() -> datetime:
    return datetime.now(UTC)
