"""Why a submission was refused: stable reason codes, shared by every entry point.

The codes appear in dead-letter headers (``ledger-reason``), in HTTP problem details
(``type`` ends with the code) and in the stored refusal. Never rename one.

Only what is not authentic, not well-formed, or impossible given what the ledger
already holds is refused. A well-formed event that breaks *policy* (a share with no
agreement, no consent, an opt-out) is recorded, not refused: "Recording is not
judging" (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Stable reason codes, in the order the intake checks them."""

    OVERSIZED = "oversized"
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


@dataclass(eq=False)  # not frozen: raising sets __traceback__, even through `with` blocks
class Refusal(Exception):
    """A submission is refused; ``detail`` says precisely why, without personal data."""

    reason: Reason
    detail: str
    pointer: str = ""

    def __str__(self) -> str:
        where = f" at {self.pointer}" if self.pointer else ""
        return f"{self.reason}: {self.detail}{where}"
