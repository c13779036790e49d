"""What the portal's routes depend on: the signed-in citizen and a form checked for its
CSRF token."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from api.deps import CitizenSubject, citizen_subject
from ledger.subjects import InvalidIdentifier, SubjectId
from portal.pages import SignInNeeded, form_refused, session_ended, session_has_ended, session_of
from portal.session import csrf_matches

CSRF_FIELD = "csrf_token"


async def signed_in(request: Request) -> CitizenSubject:
    """The citizen this session signed in; the sign-in page if none, or the "session
    ended" page if theirs has ended."""
    text = session_of(request).get("subject")
    if not isinstance(text, str):
        if session_ended(request):
            raise session_has_ended()
        raise SignInNeeded()
    try:
        subject = SubjectId.from_text(text)
    except InvalidIdentifier:  # sealed by us, so never; but never trusted blindly either
        raise SignInNeeded() from None
    return citizen_subject(request.app.state.keyring, subject)


async def posted_form(request: Request) -> dict[str, str]:
    """The fields of a form posted from one of this session's pages: refused (403) if
    its CSRF token is missing or is not this session's."""
    body = (await request.body()).decode("utf-8", errors="replace")
    fields = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
    if not csrf_matches(session_of(request), fields.get(CSRF_FIELD)):
        raise form_refused()
    return fields


SignedIn = Annotated[CitizenSubject, Depends(signed_in)]
PostedForm = Annotated[dict[str, str], Depends(posted_form)]
