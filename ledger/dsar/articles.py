"""The eleven things a subject access response must tell the person (UK GDPR Art. 15, as
amended in 2025), in plain English, drawn from the items of the copy. Pure.

Each section is ``{"number", "key", "title", "paragraphs", "entries"}``. Entries are
what the items say (purposes, categories, recipients, retention periods, sources,
transfer safeguards), deduplicated and sorted, each with the number of items that say
it; :func:`derived_entries` computes them from the items alone, so a verifier checks
that the sections agree with the copy. Nothing is said that no item says: where the
ledger records nothing (automated decision-making, a retention period), the section
says so rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")

# The kinds of timeline entry (projections.timeline, which ledger/ may not import).
ACCESS, SHARE, CONSENT, OBJECTION, REQUEST, QUERY = (
    "data-accessed",
    "data-shared",
    "consent",
    "objection",
    "subject-access-request",
    "query",
)
KINDS = (ACCESS, SHARE, CONSENT, OBJECTION, REQUEST, QUERY)
KIND_TITLES = {
    ACCESS: "Times your data was looked at or used",
    SHARE: "Times your data was shared",
    CONSENT: "Your consents",
    OBJECTION: "Your objections and opt-outs",
    REQUEST: "Your requests for your data",
    QUERY: "Your questions about how your data was used",
}

ICO_URL = "https://ico.org.uk/make-a-complaint"
ICO_PHONE = "0303 123 1113"

# UK GDPR Chapter V: what each safeguard the catalogue names is, in plain words.
SAFEGUARDS = {
    "adequacy": "UK adequacy regulations: the UK has decided that country protects "
    "personal data well enough (UK GDPR Article 45)",
    "idta": "the International Data Transfer Agreement approved in the UK (UK GDPR Article 46)",
    "addendum-to-eu-sccs": "the UK Addendum to the EU standard contractual clauses "
    "(UK GDPR Article 46)",
    "binding-corporate-rules": "binding corporate rules approved in the UK (UK GDPR Article 47)",
    "derogation": "an exception for a specific situation allowed by UK GDPR Article 49",
}

KEYS = (
    "confirmation",
    "copy",
    "purposes",
    "categories",
    "recipients",
    "retention",
    "rights",
    "complaint",
    "source",
    "automated-decisions",
    "transfer-safeguards",
)
TITLES = {
    "confirmation": "Whether your personal data is used",
    "copy": "A copy of your personal data",
    "purposes": "Why your data was used",
    "categories": "What kinds of data about you were involved",
    "recipients": "Who received your data",
    "retention": "How long your data is kept",
    "rights": "Your other rights",
    "complaint": "How to complain",
    "source": "Where your data came from",
    "automated-decisions": "Automated decisions and profiling",
    "transfer-safeguards": "How your data is protected when sent abroad",
}


def day(moment: date | datetime) -> str:
    """'3 March 2026' (a moment in UK time)."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UK)
    return f"{moment.day} {moment:%B %Y}"


def records(count: int) -> str:
    return f"{count:,} record" + ("" if count == 1 else "s")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _counted(pairs: Iterable[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[dict[str, Any]]:
    """One entry per distinct key, with how many items gave it; sorted by key."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key, entry in pairs:
        if key in found:
            found[key]["items"] += 1
        else:
            found[key] = {**entry, "items": 1}
    return [found[key] for key in sorted(found, key=lambda k: tuple(map(str, k)))]


def _detail(item: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = item.get("detail")
    return detail if isinstance(detail, Mapping) else {}


def _coded(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("code"), str):
        return None
    return {"code": value["code"], "text": _text(value.get("text"))}


def _purposes(items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    def pairs() -> Iterable[tuple[tuple[Any, ...], dict[str, Any]]]:
        for item in items:
            if item.get("kind") in (ACCESS, SHARE, CONSENT):
                if (purpose := _coded(_detail(item).get("purpose"))) is not None:
                    yield (purpose["code"], purpose["text"]), purpose

    return _counted(pairs())


def _categories(items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    def pairs() -> Iterable[tuple[tuple[Any, ...], dict[str, Any]]]:
        for item in items:
            categories = _detail(item).get("data_categories")
            for value in categories if isinstance(categories, list) else []:
                if (category := _coded(value)) is not None:
                    yield (category["code"], category["text"]), category

    return _counted(pairs())


def _shares(items: Sequence[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    return (_detail(item) for item in items if item.get("kind") == SHARE)


def _recipients(items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    def pairs() -> Iterable[tuple[tuple[Any, ...], dict[str, Any]]]:
        for detail in _shares(items):
            if detail.get("sender") == org and isinstance(detail.get("recipient"), str):
                abroad = detail.get("international_transfer")
                abroad = abroad if isinstance(abroad, Mapping) else {}
                entry = {
                    "organisation": detail["recipient"],
                    "country": abroad.get("country"),
                    "international_organisation": abroad.get("recipient"),
                }
                yield tuple(entry.values()), entry

    return _counted(pairs())


def _retention(items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    def pairs() -> Iterable[tuple[tuple[Any, ...], dict[str, Any]]]:
        for detail in _shares(items):
            kept = detail.get("retention")
            if isinstance(kept, Mapping) and isinstance(kept.get("text"), str):
                entry = {"period": kept.get("period"), "text": kept["text"]}
                yield (entry["text"], entry["period"]), entry

    return _counted(pairs())


def _sources(items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    def pairs() -> Iterable[tuple[tuple[Any, ...], dict[str, Any]]]:
        for detail in _shares(items):
            sender = detail.get("sender")
            if detail.get("recipient") == org and isinstance(sender, str) and sender != org:
                yield (sender,), {"organisation": sender}

    return _counted(pairs())


def _safeguards(items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    def pairs() -> Iterable[tuple[tuple[Any, ...], dict[str, Any]]]:
        for detail in _shares(items):
            abroad = detail.get("international_transfer")
            if detail.get("sender") == org and isinstance(abroad, Mapping):
                safeguard = _text(abroad.get("safeguard"))
                entry = {
                    "country": abroad.get("country"),
                    "safeguard": safeguard,
                    "text": SAFEGUARDS.get(safeguard, "a safeguard the record does not name"),
                }
                yield (entry["country"], safeguard), entry

    return _counted(pairs())


def _kinds(items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    counted = _counted(((item.get("kind"),), {"kind": item.get("kind")}) for item in items)
    return [{**entry, "title": KIND_TITLES.get(str(entry["kind"]), "")} for entry in counted]


# What each section's entries are, from the items alone (and the organisation's code).
DERIVED: dict[str, Callable[[Sequence[Mapping[str, Any]], str], list[dict[str, Any]]]] = {
    "copy": _kinds,
    "purposes": _purposes,
    "categories": _categories,
    "recipients": _recipients,
    "retention": _retention,
    "source": _sources,
    "transfer-safeguards": _safeguards,
}


def derived_entries(key: str, items: Sequence[Mapping[str, Any]], org: str) -> list[dict[str, Any]]:
    """The entries of section ``key`` that the items imply ([] for a fixed section)."""
    derive = DERIVED.get(key)
    return [] if derive is None else derive(items, org)


def sections(
    organisation: Mapping[str, str], case: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The eleven sections, in Art. 15's order, for ``items`` (the copy, as JSON)."""
    org, we = organisation["code"], organisation["name"]
    entries = {key: derived_entries(key, items, org) for key in KEYS}
    paragraphs = _paragraphs(we, len(items), entries)
    paragraphs["copy"].insert(0, asked_for(case["include"]))
    return [
        {
            "number": number,
            "key": key,
            "title": TITLES[key],
            "paragraphs": paragraphs[key],
            "entries": entries[key],
        }
        for number, key in enumerate(KEYS, start=1)
    ]


def asked_for(include: Mapping[str, Any]) -> str:
    """What the search covered, as the case asked: 'You asked for every record ...'."""
    kinds = include.get("kinds") or KINDS
    what = (
        "every kind of record"
        if set(kinds) >= set(KINDS)
        else "these kinds of record: " + "; ".join(KIND_TITLES[k].lower() for k in kinds)
    )
    since, until = include.get("since"), include.get("until")
    when = "".join(
        (
            f", from {day(date.fromisoformat(since))}" if since else "",
            f", up to {day(date.fromisoformat(until))}" if until else "",
        )
    )
    return f"The search covered {what}{when}."


def _paragraphs(
    we: str, count: int, entries: Mapping[str, list[dict[str, Any]]]
) -> dict[str, list[str]]:
    We = we[:1].upper() + we[1:]
    found = {
        "confirmation": [
            f"Yes. The ledger holds {records(count)} about you that involve {we}. "
            "This response lists every one of them."
            if count
            else f"The ledger holds no record about you that involves {we} within what "
            "you asked for. The ledger records who looked at or shared your data, your "
            "consents, objections and requests; it shows none of these."
        ],
        "copy": [
            "The list below is a copy of every record, newest first. Each says what "
            "happened, when, who did it and why."
        ],
        "purposes": [
            f"{We} used or shared your data for these reasons:"
            if entries["purposes"]
            else "No record in this response states a reason for using your data."
        ],
        "categories": [
            "These kinds of data about you were involved:"
            if entries["categories"]
            else "No record in this response names the kinds of data involved."
        ],
        "recipients": [
            f"{We} shared your data with these organisations:"
            if entries["recipients"]
            else f"No record in this response shows {we} sharing your data with anyone."
        ],
        "retention": [
            "When your data was shared, these were the stated periods for keeping it:"
            if entries["retention"]
            else "No record in this response states how long your data is kept. "
            f"{We} must tell you how long it keeps your data, or how it decides."
        ],
        "rights": [
            f"You can ask {we} to correct data about you that is wrong or incomplete "
            "(UK GDPR Article 16).",
            f"You can ask {we} to delete your data in some cases, for example when it no "
            "longer needs it (Article 17).",
            f"You can ask {we} to limit how it uses your data, for example while it checks "
            "whether the data is correct (Article 18).",
            f"You can object to {we} using your data for its official functions or its "
            "legitimate interests; it must then stop unless it has compelling reasons "
            "(Article 21).",
        ],
        "complaint": [
            f"If you are unhappy with how {we} has used your data or answered this "
            "request, you can complain to the Information Commissioner's Office (ICO), "
            f"online at {ICO_URL} or by phone on {ICO_PHONE}. You can also go to court.",
        ],
        "source": [
            f"Some of your data came from these organisations, which shared it with {we}:"
            if entries["source"]
            else "No record in this response shows your data coming to "
            f"{we} from another organisation."
        ],
        "automated-decisions": [
            "No record in this response shows a decision about you made by automated "
            "means, including profiling. The ledger records who looked at and shared "
            "your data; it does not record how decisions were made."
        ],
        "transfer-safeguards": [
            "Your data was sent outside the UK with these safeguards:"
            if entries["transfer-safeguards"]
            else "No record in this response shows your data being sent outside the UK."
        ],
    }
    return found
