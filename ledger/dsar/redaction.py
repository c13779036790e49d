"""Third-party data in a response: withheld by default, disclosed item by item on an
officer's recorded decision. Pure.

The identity of the official who looked at a person's record (``official``) or of an
officer named as acting on their request (``officer``) is personal data about someone
else. DPA 2018 Sch. 2 para 16 lets a controller withhold it unless that person agrees
or it is reasonable to disclose it; the ledger withholds it unless an officer decides,
with a reason, to disclose it for one item. Every decision in force is shown in the
bundle: who decided (the default rule, or the officer's pseudonym), why and when. The
latest decision for an item's field wins, so a disclosure can itself be reversed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

THIRD_PARTY = {
    "official": "the identity of the official who did this",
    "officer": "the identity of the officer who acted on your request",
}
DEFAULT_RULE = "default rule"
DEFAULT_REASON = (
    "This is information about another person (third-party data). It is withheld unless "
    "they agree or it is reasonable to disclose it (Data Protection Act 2018, Schedule 2, "
    "paragraph 16)."
)


class InvalidDecision(ValueError):
    """A redaction decision the bundle cannot apply (names no such item, gives no reason)."""


@dataclass(frozen=True)
class RedactionDecision:
    """An officer's recorded decision to disclose (or withhold) one item's third-party
    field, with their reason."""

    position: int
    field: str
    disclose: bool
    officer: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Redaction:
    """The decision in force for one item's third-party field."""

    field: str
    disclosed: bool
    decided_by: str
    reason: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "what": THIRD_PARTY[self.field],
            "disclosed": self.disclosed,
            "decided_by": self.decided_by,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


def in_force(
    decisions: Iterable[RedactionDecision],
    present: Collection[tuple[int, str]],
    default_at: datetime,
) -> dict[tuple[int, str], Redaction]:
    """The decision in force for each (position, field) of ``present``: the officers'
    latest (by ``at``; the later in the list on a tie), else the default rule's
    (withheld, at ``default_at``). A decision about anything not present is refused."""
    found = {
        key: Redaction(key[1], False, DEFAULT_RULE, DEFAULT_REASON, default_at) for key in present
    }
    for decision in sorted(decisions, key=lambda d: d.at):
        key = (decision.position, decision.field)
        if decision.field not in THIRD_PARTY:
            raise InvalidDecision(
                f"a redaction decision names the field {decision.field!r}; "
                f"only {', '.join(sorted(THIRD_PARTY))} are third-party fields"
            )
        if key not in found:
            raise InvalidDecision(
                f"a redaction decision names ledger position {decision.position}, field "
                f"{decision.field!r}, which this response does not hold"
            )
        if not decision.officer.strip() or not decision.reason.strip():
            raise InvalidDecision(
                f"the decision on ledger position {decision.position}, field "
                f"{decision.field!r} must say which officer made it and why"
            )
        if decision.at.tzinfo is None:
            raise InvalidDecision("a redaction decision's time must carry its time zone")
        found[key] = Redaction(
            decision.field, decision.disclose, decision.officer, decision.reason, decision.at
        )
    return found
