"""Why a submission was refused: stable reason codes, shared by every entry point.

The codes appear in dead-letter headers (``ledger-reason``), in HTTP problem details
(``type`` ends with the code) and in the stored refusal. Never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    OVERSIZED = "oversized"
    MALFORMED_JSON = "malformed-json"
    NOT_A_CLOUDEVENT = "not-a-cloudevent"
    UNKNOWN_TYPE = "unknown-type"
    SCHEMA_VIOLATION = "schema-violation"
    INVALID_SUBJECT = "invalid-subject"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    NOT_AUTHORISED = "not-authorised"
    TIME_IN_FUTURE = "time-in-future"


@dataclass(frozen=True)
class Refusal(Exception):
    """A submission is refused; ``detail`` says precisely why, without personal data."""

    reason: Reason
    detail: str
    pointer: str = ""

    def __str__(self) -> str:
        where = f" at {self.pointer}" if self.pointer else ""
        return f"{self.reason}: {self.detail}{where}"
