"""The start page, signing in (a demo citizen in development; GOV.UK One Login in
production) and signing out."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from portal.deps import PostedForm
from portal.development import CITIZENS
from portal.one_login import OneLogin, Pending, SignInRefused
from portal.pages import PortalError, not_found, render, session_of
from portal.session import CSRF

log = logging.getLogger("ledger.portal")
router = APIRouter()
# Mounted only outside production: there, the page does not exist at all.
development = APIRouter()

AFTER_SIGN_IN = "/your-data"


def _production(request: Request) -> bool:
    return bool(request.app.state.settings.env == "production")


def _one_login(request: Request) -> OneLogin:
    state = request.app.state
    if getattr(state, "one_login", None) is None:
        state.one_login = OneLogin(state.settings)
    client: OneLogin = state.one_login
    return client


def _signed_in(request: Request, subject: str, name: str | None, id_token: str = "") -> None:
    """A new session for the citizen: nothing of the one before it carries over."""
    session = session_of(request)
    session.clear()
    session.update({"subject": subject, "name": name, CSRF: secrets.token_urlsafe(32)})
    if id_token:
        session["id_token"] = id_token


@router.get("/")
async def start(request: Request) -> Response:
    return render(request, "start.html")


@router.get("/sign-in")
async def sign_in(request: Request) -> Response:
    if session_of(request).get("subject"):
        return RedirectResponse(AFTER_SIGN_IN, status_code=303)
    if _production(request):
        url, pending = await _one_login(request).start()
        session_of(request)["pending"] = pending.to_json()
        return RedirectResponse(url, status_code=303)
    return render(request, "sign_in.html", citizens=list(CITIZENS), error=None)


@development.post("/sign-in")
async def sign_in_as(request: Request, form: PostedForm) -> Response:
    """Development only: sign in as one of the demo citizens."""
    name = form.get("citizen", "")
    if name not in CITIZENS:
        return render(
            request,
            "sign_in.html",
            status=400,
            citizens=list(CITIZENS),
            error="Select who you want to sign in as",
        )
    _signed_in(request, CITIZENS[name], name)
    return RedirectResponse(AFTER_SIGN_IN, status_code=303)


@router.get("/sign-in/callback")
async def signed_in_with_one_login(request: Request) -> Response:
    if not _production(request):
        raise not_found()
    session = session_of(request)
    pending = Pending.from_json(session.pop("pending", None))
    try:
        subject, id_token = await _one_login(request).finish(pending, dict(request.query_params))
    except SignInRefused as refused:
        log.warning("a One Login sign-in was refused: %s", refused.reason)
        raise PortalError(
            403,
            "Sorry, we could not sign you in",
            "Your sign-in did not finish, or it was started in another browser tab or window.",
            "Go back to the start and sign in again.",
        ) from None
    _signed_in(request, str(subject), None, id_token)
    return RedirectResponse(AFTER_SIGN_IN, status_code=303)


@router.post("/sign-out")
async def sign_out(request: Request, _: PostedForm) -> Response:
    session = session_of(request)
    id_token = session.get("id_token")
    session.clear()
    if _production(request) and id_token:
        redirect = urlsplit(request.app.state.settings.oidc_redirect_url)
        after = f"{redirect.scheme}://{redirect.netloc}/signed-out"
        url = await _one_login(request).end_session_url(id_token, after)
        if url:
            return RedirectResponse(url, status_code=303)
    return RedirectResponse("/signed-out", status_code=303)


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(request, "signed_out.html")
