"""Plain English for citizens: what a timeline entry says, with no type codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")

ACTIONS = {
    "viewed": "looked at",
    "exported": "made a copy of",
    "changed": "changed",
    "deleted": "deleted",
}

ARTICLE_6 = {
    "consent": "because you gave your consent (UK GDPR Article 6(1)(a))",
    "contract": "to carry out a contract with you (UK GDPR Article 6(1)(b))",
    "legal-obligation": "because the law requires it (UK GDPR Article 6(1)(c))",
    "vital-interests": "to protect someone's life (UK GDPR Article 6(1)(d))",
    "public-task": "to carry out its official functions (UK GDPR Article 6(1)(e))",
    "legitimate-interests": "for its legitimate interests (UK GDPR Article 6(1)(f))",
}


def day(moment: datetime) -> str:
    """'3 March 2026', in UK time."""
    local = moment.astimezone(UK)
    return f"{local.day} {local:%B %Y}"


def time_of_day(moment: datetime) -> str:
    local = moment.astimezone(UK)
    return f"{local:%H:%M}"


def sentence_start(text: str) -> str:
    """Organisation names are registered as they read mid-sentence ('the Department for
    Work and Pensions', 'NHS England'); capitalise the first letter to open a sentence."""
    return text[:1].upper() + text[1:]


def describe_access(organisation_name: str, occurred_at: datetime, detail: dict[str, Any]) -> str:
    """E.g. 'The Department for Work and Pensions looked at your benefit claim on 3 March
    2026 to process your Universal Credit application.'"""
    verb = ACTIONS.get(detail["action"], detail["action"])
    purpose = detail["purpose"]["text"].rstrip(".")
    return (
        f"{sentence_start(organisation_name)} {verb} your {detail['record']} "
        f"on {day(occurred_at)} {purpose}."
    )


def describe_basis(lawful_basis: dict[str, Any]) -> str:
    return ARTICLE_6.get(lawful_basis.get("article6", ""), "under a lawful basis it did not state")


def describe_categories(categories: list[dict[str, Any]]) -> str:
    texts = [c["text"] for c in categories]
    if len(texts) <= 1:
        return "".join(texts)
    return ", ".join(texts[:-1]) + " and " + texts[-1]
