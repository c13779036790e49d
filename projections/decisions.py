"""The consent decision: may organisation A share categories C about subject S with B
for purpose P, now?

:func:`decide` is pure (facts in, decision out); :func:`decision_facts` gathers the
facts from the agreements and consent views in one indexed round trip, so an answer
reflects a withdrawal as soon as the consent view has applied it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from projections.agreements import in_force
from projections.policy import agreement_covers

ACTIVE = ("given", "renewed")


@dataclass(frozen=True)
class ShareQuestion:
    """The share a service is about to make."""

    sender: str
    recipient: str
    subject_key: str
    purpose: str
    categories: Sequence[str]


@dataclass(frozen=True)
class DecisionFacts:
    """What the views say now: agreements between the parties, the consent, opt-outs."""

    agreements: Sequence[dict[str, Any]] = ()  # {"reference", "terms"}, not ended
    consent: dict[str, Any] | None = None  # {"state", "expires_at", "terms"}
    opted_out: bool = False


@dataclass(frozen=True)
class Decision:
    """Allowed or denied; the basis when allowed, the reason (a stable code) when denied."""

    allowed: bool
    basis: str | None  # "agreement", "consent" or "gateway"
    reason: str | None  # "opted-out", "no-agreement", "outside-agreement", "no-consent"
    explanation: str
    agreement: str | None = None
    legal_gateway: dict[str, Any] | None = field(default=None)


def _consent_active(
    consent: dict[str, Any] | None, categories: Sequence[str], now: datetime
) -> str:
    """Empty if the consent covers the share, else why not."""
    if consent is None:
        return "the person has not given consent for this purpose"
    if consent["state"] not in ACTIVE:
        return f"the person's consent is {consent['state']}"
    expires = consent.get("expires_at")
    if expires is not None and datetime.fromisoformat(str(expires)) <= now:
        return "the person's consent has lapsed"
    covered = {c["code"] for c in (consent.get("terms") or {}).get("data_categories", [])}
    if covered and not set(categories) <= covered:
        return "the person's consent does not cover these categories of data"
    return ""


def decide(question: ShareQuestion, facts: DecisionFacts, now: datetime) -> Decision:
    """Whether the share may go ahead now, and on what basis."""
    if facts.opted_out:
        return Decision(False, None, "opted-out", "the person has opted out of this purpose")
    today: date = now.date()
    problems = []
    for agreement in facts.agreements:
        terms = agreement["terms"]
        coverage = agreement_covers(
            terms,
            in_force(terms, False, today),
            question.sender,
            question.recipient,
            question.purpose,
            question.categories,
        )
        if coverage.problem:
            problems.append(coverage)
            continue
        reference, gateway = agreement["reference"], terms.get("legal_gateway")
        if terms.get("lawful_basis", {}).get("article6") == "consent":
            why_not = _consent_active(facts.consent, question.categories, now)
            if why_not:
                return Decision(False, None, "no-consent", why_not, reference)
            return Decision(
                True, "consent", None, "the person's consent is active", reference, gateway
            )
        if gateway:
            return Decision(True, "gateway", None, f"under {gateway['text']}", reference, gateway)
        return Decision(True, "agreement", None, "the agreement covers this share", reference)
    outside = [p for p in problems if p.problem == "outside-agreement"]
    if outside:
        return Decision(False, None, "outside-agreement", outside[0].detail)
    return Decision(
        False, None, "no-agreement", "no data sharing agreement in force covers these parties"
    )


_FACTS = (
    "SELECT "
    "(SELECT coalesce(json_agg(json_build_object('reference', reference, 'terms', terms)), '[]') "
    " FROM agreements.agreements "
    " WHERE parties @> ARRAY[%(sender)s::text, %(recipient)s::text] AND ended_at IS NULL) "
    "AS agreements, "
    "(SELECT json_build_object('state', state, 'expires_at', expires_at, 'terms', terms) "
    " FROM consent.consents WHERE subject_key = %(key)s AND controller = %(sender)s "
    " AND purpose_code = %(purpose)s) AS consent, "
    "EXISTS (SELECT 1 FROM consent.objections WHERE subject_key = %(key)s "
    " AND purpose_code = %(purpose)s AND in_force AND controller IN (%(sender)s, '*')) "
    "AS opted_out"
)


async def decision_facts(pool: AsyncConnectionPool, question: ShareQuestion) -> DecisionFacts:
    """The facts for one question, in one round trip."""
    params = {
        "sender": question.sender,
        "recipient": question.recipient,
        "key": question.subject_key,
        "purpose": question.purpose,
    }
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as curs:
        await curs.execute(_FACTS, params, prepare=True)
        row = await curs.fetchone()
    assert row is not None
    return DecisionFacts(row["agreements"], row["consent"], bool(row["opted_out"]))
