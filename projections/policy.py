"""Policy checks with no I/O: does an agreement cover a share, and what findings a fact
raises. Both the findings view and the consent decision use them, so a share the
decision allowed never becomes a finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Each compliance finding of DOMAIN.md: its stable rule name and what it means.
RULES = {
    "no-agreement": "Data was shared with no data sharing agreement in force between the parties",
    "outside-agreement": (
        "Data was shared for a purpose or of a category the agreement does not cover"
    ),
    "no-consent": "Data was shared on the basis of consent, with no active consent",
    "opted-out": "Data was shared for a purpose the person had opted out of",
    "no-purpose": "A record was accessed with no stated purpose",
    "break-glass": "A record was accessed in an emergency (break-glass)",
    "no-receipt": "A share reported by the sender has no matching receipt from the recipient",
    "conflicting-resend": (
        "A service sent other content under an event id it had already used (refused)"
    ),
}

# Purpose codes services use when they have none to state.
NO_PURPOSE = frozenset({"none", "unspecified", "not-stated", "unknown", "n-a"})


@dataclass(frozen=True)
class Coverage:
    """Whether an agreement covers a share: None problem means it does."""

    problem: str | None  # "no-agreement" or "outside-agreement"
    detail: str = ""


def agreement_covers(
    terms: dict[str, Any] | None,
    in_force: bool,
    sender: str,
    recipient: str,
    purpose: str,
    categories: Iterable[str],
) -> Coverage:
    """Check a share against the agreement it relies on (terms as they stood then)."""
    if terms is None:
        return Coverage("no-agreement", "no agreement is named or registered")
    if not in_force:
        return Coverage("no-agreement", "the agreement was not in force at the time")
    parties = {p["organisation"] for p in terms["parties"]}
    if not {sender, recipient} <= parties:
        return Coverage("no-agreement", "the agreement is not between these parties")
    if purpose not in {p["code"] for p in terms["purposes"]}:
        return Coverage("outside-agreement", f"purpose {purpose} is not in the agreement")
    outside = sorted(set(categories) - {c["code"] for c in terms["data_categories"]})
    if outside:
        return Coverage("outside-agreement", f"categories {', '.join(outside)} are not in it")
    return Coverage(None)


def access_findings(purpose: dict[str, Any] | None, break_glass: bool) -> list[str]:
    """The rules an access breaks (or flags)."""
    rules = []
    code = (purpose or {}).get("code") or ""
    text = ((purpose or {}).get("text") or "").strip()
    if code in NO_PURPOSE or not text:
        rules.append("no-purpose")
    if break_glass:
        rules.append("break-glass")
    return rules
