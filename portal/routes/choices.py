"""Your choices: the consents you have given and your objections, with their history;
withdraw or give a consent again, object to a use of your data or lift an objection.

Each change is a signed event of the organisation's portal service
(:mod:`ledger.choices`), recorded through the one write path. The page after a change
reads the consent view once it has the change, and says what the view now holds: the
confirmation is what the ledger recorded, not what the form asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.consent_receipts import consent_receipt
from api.deps import MAX_POSITION, CitizenSubject, Log, Views
from api.dsar import emit
from api.problems import Problem
from ledger import choices
from ledger.domain.consent import Objection
from ledger.held_keys import HeldSigners
from ledger.subjects import SubjectId
from portal.deps import PostedForm, SignedIn
from portal.pages import PortalError, not_found, render, session_of
from projections import wording
from projections.consent import NATIONAL

router = APIRouter()

# The session's note of the change just made: the record's id and the state it leads to.
CHANGED = "changed"
NOT_RECORDED = {
    "portal-not-enabled": "This organisation does not yet take changes to your choices "
    "through this service. Nothing has changed: contact the organisation directly.",
    "invariant-violated": "It has changed since you opened the page. Nothing has changed "
    "now: go back to your choices to see where it stands.",
}


@dataclass(frozen=True)
class Choice:
    """One consent or objection, as the page shows it."""

    id: str
    kind: str  # consent | objection
    state: str
    organisation: str  # its name, or "every organisation" for a national opt-out
    purpose: str  # "to ..." or "for ...", as it reads mid-sentence
    summary: str
    history: list[str]
    expires: str | None
    action: str | None  # withdraw | give | lift, or None when it cannot change here
    online: bool  # whether the organisation takes changes through the portal
    record: dict[str, Any]
    receipt: int | None  # a consent's latest change: the ledger position of its receipt


# What each state means, in a sentence and in a tag.
SUMMARIES = {
    "given": "You have given consent to {org} using your data {purpose}.",
    "renewed": "You have given consent to {org} using your data {purpose}.",
    "withdrawn": "You withdrew your consent to {org} using your data {purpose}.",
    "expired": "Your consent to {org} using your data {purpose} ran out.",
    "in-force": "You have objected to {org} using your data {purpose}.",
    "lifted": "You lifted your objection to {org} using your data {purpose}.",
}
TAGS = {
    "given": ("Consent given", "govuk-tag--green"),
    "renewed": ("Consent given", "govuk-tag--green"),
    "withdrawn": ("Consent withdrawn", "govuk-tag--grey"),
    "expired": ("Consent ran out", "govuk-tag--grey"),
    "in-force": ("Objection in place", "govuk-tag--blue"),
    "lifted": ("Objection lifted", "govuk-tag--grey"),
}
ACTIONS = {"given": "withdraw", "renewed": "withdraw", "withdrawn": "give", "expired": "give"}
# What the page after a change says, from what the view holds now.
DONE = {
    "withdrawn": "You have withdrawn your consent",
    "given": "You have given your consent",
    "in-force": "Your objection has been recorded",
    "lifted": "You have lifted your objection",
}
# The change a history row's state stands for, in wording.describe_change's terms.
HISTORY_CHANGES = {"in-force": "set"}


def _choice(row: dict[str, Any], names: dict[str, str], online: bool) -> Choice:
    """``online``: whether the controller takes changes through the portal."""
    national = row["controller"] == NATIONAL
    org = "every organisation" if national else names.get(row["controller"], row["controller"])
    purpose = wording.for_purpose(row["purpose"]["text"])
    action = ACTIONS.get(row["state"]) if row["kind"] == "consent" else None
    if row["kind"] == "objection" and row["state"] == "in-force" and not national:
        action = "lift"
    if not online:
        action = None
    detail = {"purpose": row["purpose"], "national": national}
    history = [
        wording.describe_change(
            row["kind"],
            org,
            datetime.fromisoformat(step["at"]),
            {**detail, "change": HISTORY_CHANGES.get(step["state"], step["state"])},
        )
        for step in row["history"] or []
    ]
    expires = row["expires_at"]
    return Choice(
        id=str(row["originator_id"]),
        kind=row["kind"],
        state=row["state"],
        organisation=org,
        purpose=purpose,
        summary=SUMMARIES[row["state"]].format(org=org, purpose=purpose),
        history=list(reversed(history)),  # newest first, as the timeline
        expires=wording.day(expires) if expires and row["state"] in ACTIONS else None,
        action=action,
        online=online,
        record=row,
        receipt=(row["history"] or [{}])[-1].get("position") if row["kind"] == "consent" else None,
    )


async def _online(request: Request, organisations: list[str]) -> dict[str, bool]:
    """Whether each organisation takes changes through the portal (holds a portal key)."""
    portal: HeldSigners = request.app.state.portal
    return {o: await run_in_threadpool(portal.enabled, o) for o in organisations}


async def _choices(request: Request, views: Views, subject: CitizenSubject) -> list[Choice]:
    rows = await views.consents([subject.key])
    controllers = sorted({r["controller"] for r in rows})
    names = await views.organisation_names(controllers)
    online = await _online(request, controllers)
    return [_choice(row, names, online[row["controller"]]) for row in rows]


async def _own_choice(
    request: Request, views: Views, subject: CitizenSubject, choice_id: str
) -> Choice:
    """One of the signed-in citizen's own records; not found for anybody else's."""
    for choice in await _choices(request, views, subject):
        if choice.id == choice_id:
            return choice
    raise not_found()


@router.get("/choices")
async def your_choices(request: Request, subject: SignedIn, views: Views) -> Response:
    found = await _choices(request, views, subject)
    changed_id, leads_to = session_of(request).pop(CHANGED, None) or (None, None)
    changed = next((c for c in found if c.id == changed_id), None)
    # Said only once the view holds the new state (the change waited for it, for
    # read_wait_seconds): otherwise that it is on its way, never what it was before.
    done = changed if changed is not None and changed.state == leads_to else None
    return render(
        request,
        "choices.html",
        consents=[c for c in found if c.kind == "consent"],
        objections=[c for c in found if c.kind == "objection"],
        tags=TAGS,
        done=done,
        done_title=DONE.get(done.state) if done else None,
        pending=changed is not None and done is None,
    )


@router.get("/choices/receipts/{position}")
async def receipt(
    position: str, subject: SignedIn, views: Views, log: Log, request: Request
) -> Response:
    """The signed receipt of a change to one of the citizen's own consents, as the API
    serves it: `ledger verify receipt FILE --key KEY` checks it."""
    if not position.isdigit() or not 0 < int(position) <= MAX_POSITION:
        raise not_found()
    try:
        document = await consent_receipt(
            views, log, request.app.state.log_signer, subject.key, int(position)
        )
    except Problem as problem:
        if problem.status == 503:
            raise PortalError(
                503,
                "Your receipt is not ready yet",
                "The ledger seals each change into its log about once a second. Try again in "
                "a minute.",
            ) from None
        raise not_found() from None
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{position}.json"'},
    )


# Confirming a change to one record: its question, what it leads to, and the event.
@dataclass(frozen=True)
class Change:
    title: str
    explanation: str
    button: str
    event: Callable[[SubjectId, dict[str, Any]], tuple[str, dict[str, Any]]]
    leads_to: str  # the record's state once it is made


CHANGES = {
    "withdraw": Change(
        "Are you sure you want to withdraw your consent?",
        "{org} will no longer be able to use your data {purpose} on the basis of your "
        "consent. What it has already done with your consent stays lawful.",
        "Withdraw consent",
        choices.withdrawal,
        "withdrawn",
    ),
    "give": Change(
        "Give your consent again",
        "You agree to {org} using your data {purpose}, on the same terms as before. You "
        "can withdraw your consent at any time, here.",
        "Give consent",
        choices.consent_again,
        "given",
    ),
    "lift": Change(
        "Are you sure you want to lift your objection?",
        "{org} will be able to use your data {purpose} again.",
        "Lift objection",
        choices.lifting,
        "lifted",
    ),
}


def _change(action: str, choice: Choice) -> Change:
    change = CHANGES.get(action)
    if change is None or choice.action != action:
        raise not_found()
    return change


@router.get("/choices/{choice_id}/{action}")
async def confirm_change(
    request: Request, choice_id: str, action: str, subject: SignedIn, views: Views
) -> Response:
    choice = await _own_choice(request, views, subject, choice_id)
    change = _change(action, choice)
    return _confirmation(request, choice, action, change)


def _confirmation(request: Request, choice: Choice, action: str, change: Change) -> Response:
    notice = ((choice.record["terms"].get("collection") or {}).get("notice")) or {}
    return render(
        request,
        "choice_confirm.html",
        choice=choice,
        action=action,
        title=change.title,
        explanation=wording.sentence_start(
            change.explanation.format(org=choice.organisation, purpose=choice.purpose)
        ),
        button=change.button,
        notice=notice if action == "give" else None,
        categories=wording.describe_categories(choice.record["terms"].get("data_categories") or []),
    )


@router.post("/choices/{choice_id}/{action}")
async def make_change(
    request: Request,
    choice_id: str,
    action: str,
    subject: SignedIn,
    views: Views,
    form: PostedForm,
) -> Response:
    choice = await _own_choice(request, views, subject, choice_id)
    change = _change(action, choice)
    try:
        event_type, data = change.event(subject.id, choice.record)
    except choices.CannotChange as cannot:
        raise PortalError(409, "Sorry, you cannot change this here", str(cannot)) from None
    await _record(request, views, choice.record["controller"], event_type, data)
    session_of(request)[CHANGED] = [choice.id, change.leads_to]
    return RedirectResponse("/choices", status_code=303)


async def _record(
    request: Request, views: Views, organisation: str, event_type: str, data: dict[str, Any]
) -> None:
    """Sign the change as the organisation's portal service, record it, and wait until
    the consent view holds it."""
    try:
        position = await emit(
            request,
            organisation,
            event_type,
            data,
            datetime.now(UTC),
            signers=request.app.state.portal,
        )
    except Problem as problem:
        why = NOT_RECORDED.get(problem.code, "Nothing has changed. Try again later.")
        raise PortalError(problem.status, "Sorry, we could not record your choice", why) from None
    await views.reached(position, ("consent",), request.app.state.settings.read_wait_seconds)


# Objecting to a use of your data.


async def _objectable(
    request: Request, views: Views, subject: CitizenSubject
) -> dict[str, dict[str, Any]]:
    """What the citizen may object to here: each purpose in their timeline of an
    organisation that takes changes online, bar those they object to already; keyed by
    a form value."""
    used = await views.purposes_used([subject.key])
    objected = {
        (r["controller"], r["purpose"]["code"])
        for r in await views.consents([subject.key])
        if r["kind"] == "objection" and r["state"] == "in-force"
    }
    organisations = sorted({u["organisation"] for u in used})
    names = await views.organisation_names(organisations)
    online = await _online(request, organisations)
    found = {}
    for index, row in enumerate(used):
        if (row["organisation"], row["purpose"]["code"]) in objected:
            continue
        if not online[row["organisation"]]:
            continue
        name = names.get(row["organisation"], row["organisation"])
        found[str(index)] = {
            "organisation": row["organisation"],
            "purpose": row["purpose"],
            "text": f"{wording.sentence_start(name)} using your data "
            f"{wording.for_purpose(row['purpose']['text'])}",
        }
    return found


@router.get("/choices/object")
async def objection_form(request: Request, subject: SignedIn, views: Views) -> Response:
    return render(
        request,
        "objection_new.html",
        options=await _objectable(request, views, subject),
        errors={},
    )


@router.post("/choices/object")
async def record_objection(
    request: Request, subject: SignedIn, views: Views, form: PostedForm
) -> Response:
    options = await _objectable(request, views, subject)
    chosen = options.get(form.get("use", ""))
    if chosen is None:
        errors = {"use": "Select the use of your data you object to"}
        return render(request, "objection_new.html", status=400, options=options, errors=errors)
    event_type, data = choices.objection(subject.id, chosen["organisation"], chosen["purpose"])
    await _record(request, views, chosen["organisation"], event_type, data)
    objection = Objection.create_id(subject.key, chosen["organisation"], chosen["purpose"])
    session_of(request)[CHANGED] = [str(objection), "in-force"]
    return RedirectResponse("/choices", status_code=303)
