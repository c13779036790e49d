"""Plain English for citizens: what a timeline entry says, with no type codes."""

from __future__ import annotations

from datetime import date, datetime
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
    purpose = for_purpose(detail["purpose"]["text"])
    return (
        f"{sentence_start(organisation_name)} {verb} your {_thing(detail['record'])} "
        f"on {day(occurred_at)} {purpose}."
    )


def describe_basis(lawful_basis: dict[str, Any]) -> str:
    return ARTICLE_6.get(lawful_basis.get("article6", ""), "under a lawful basis it did not state")


def describe_categories(categories: list[dict[str, Any]]) -> str:
    texts = [c["text"] for c in categories]
    if len(texts) <= 1:
        return "".join(texts)
    return ", ".join(texts[:-1]) + " and " + texts[-1]


def for_purpose(purpose: str) -> str:
    """'to do X' reads as it is ('To do X' too, mid-sentence); 'research and planning'
    becomes 'for research and planning'."""
    purpose = " ".join(purpose.split()).rstrip(".")
    if purpose[:1].isupper() and purpose[1:2].islower():  # 'Research', not 'NHS'
        purpose = purpose[:1].lower() + purpose[1:]
    return purpose if purpose.startswith(("to ", "for ")) else f"for {purpose}"


def _thing(name: str | None) -> str:
    """A record's name as it reads mid-sentence: a name sent all in capitals ('BENEFIT
    CLAIM') in lower case; anything else (a 'GP record') as it was sent; 'records' where
    the name was erased (another subject of the same event asked for it)."""
    if name is None:
        return "records"
    name = " ".join(name.split())
    return name.lower() if name.isupper() and len(name) > 4 else name


def _name(names: dict[str, str], code: str) -> str:
    return names.get(code, code)


def describe_share(names: dict[str, str], occurred_at: datetime, detail: dict[str, Any]) -> str:
    """E.g. 'The Department for Work and Pensions shared your income with HM Revenue and
    Customs on 3 March 2026 to check earnings for Universal Credit.'"""
    sender, recipient = _name(names, detail["sender"]), _name(names, detail["recipient"])
    what = describe_categories(detail["data_categories"])
    purpose = for_purpose(detail["purpose"]["text"])
    if detail.get("reporter") == "recipient":
        return (
            f"{sentence_start(recipient)} received {what} from {sender} "
            f"on {day(occurred_at)} {purpose}."
        )
    return (
        f"{sentence_start(sender)} shared {what} with {recipient} on {day(occurred_at)} {purpose}."
    )


CONSENT_CHANGES = {
    "given": "You gave consent to {org} {purpose}",
    "withdrawn": "You withdrew your consent to {org} {purpose}",
    "expired": "Your consent to {org} {purpose} ran out",
    "renewed": "You renewed your consent to {org} {purpose}",
}

OBJECTION_CHANGES = {
    "set": "You opted out of your data being used {purpose}{by}",
    "lifted": "You opted back in to your data being used {purpose}{by}",
}

REQUEST_CHANGES = {
    "received": "{org} received your request for a copy of your data",
    "identity-verified": "{org} confirmed your identity for your request",
    "clarification-requested": "{org} asked you to make clear what you are asking for",
    "clarification-received": "{org} received your answer about what you are asking for",
    "extended": "{org} gave itself more time to answer your request",
    "responded": "{org} answered your request",
    "refused": "{org} refused your request",
    "closed": "{org} closed your request",
}
# What a change means for the person, said after the sentence that dates it.
REQUEST_AFTERWORDS = {
    "clarification-requested": "The time limit is paused until you reply.",
    "clarification-received": "The time limit runs again.",
    "extended": "The law allows this for a complex request, or for many requests.",
    "refused": "You can complain to the Information Commissioner's Office.",
}


QUERY_CHANGES = {
    "raised": "You asked {org} to explain why it used your data",
    "answered": "{org} answered your question about why it used your data",
}


def describe_erased(occurred_at: datetime, detail: dict[str, Any]) -> str:
    """Where an entry was before its details were erased, e.g. 'Details of something
    that happened on 3 March 2025 were removed on 3 March 2031 under the retention
    schedule.'"""
    erased = day(datetime.fromisoformat(detail["erased_at"]))
    why = (
        "under the retention schedule"
        if detail.get("rule") == "retention"
        else "because a request to erase your data was agreed"
    )
    return (
        f"Details of something that happened on {day(occurred_at)} were removed on {erased} {why}."
    )


def describe_change(
    kind: str, organisation_name: str, occurred_at: datetime, detail: dict[str, Any]
) -> str:
    """A consent, opt-out or request change, as one sentence."""
    org = organisation_name
    purpose = for_purpose((detail.get("purpose") or {}).get("text", ""))
    change = detail["change"]
    # A consent or opt-out ends with its purpose, which may end with anything ("...
    # schemes you may be able to get"): its day goes first, never after the purpose.
    if kind in ("consent", "objection"):
        by = "" if detail.get("national") else f" by {org}"
        changes = CONSENT_CHANGES if kind == "consent" else OBJECTION_CHANGES
        text = changes[change].format(org=org, purpose=purpose, by=by)
        return f"On {day(occurred_at)}, {text[:1].lower()}{text[1:]}."
    if kind == "query":
        text = sentence_start(QUERY_CHANGES[change].format(org=org))
        explanation = detail.get("explanation")
        if explanation:
            return f"{text} on {day(occurred_at)}: {_quoted(explanation)}"
    else:
        text = sentence_start(REQUEST_CHANGES[change].format(org=org))
        after = REQUEST_AFTERWORDS.get(change)
        if after:
            return f"{text} on {day(occurred_at)}. {after}"
    return f"{text} on {day(occurred_at)}."


def _quoted(text: str) -> str:
    """An organisation's own words, quoted, ending the sentence once."""
    words = text.strip()
    return f"\u201c{words}\u201d" if words[-1:] in ".!?" else f"\u201c{words}.\u201d"


CASE_STATES = {
    ("request", "awaiting-identity"): "{org} needs to confirm who you are before it can "
    "start on your request. The time limit starts when it has.",
    ("request", "in-progress"): "{org} is working on your request. It must answer by {due}.",
    ("request", "paused"): "{org} has asked you to make clear what you are asking for. The "
    "time limit is paused until you reply.",
    ("request", "responded"): "{org} has answered your request.",
    ("request", "refused"): "{org} refused your request. You can complain to the "
    "Information Commissioner's Office.",
    ("request", "closed"): "Your request to {org} is finished.",
    ("query", "open"): "{org} is looking into your question. It should answer by {due}.",
    ("query", "answered"): "{org} has answered your question.",
    ("query", "closed"): "Your question to {org} is finished.",
}


def describe_case(kind: str, state: str, organisation_name: str, due: date | None) -> str:
    """Where a request or a query stands, in a sentence or two."""
    text = CASE_STATES.get((kind, state), "{org} has your request.")
    return sentence_start(
        text.format(org=organisation_name, due=day_of(due) if due else "the due date")
    )


def day_of(value: date) -> str:
    """'3 April 2026', for a date."""
    return f"{value.day} {value:%B %Y}"
