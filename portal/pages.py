"""Rendering pages: GOV.UK Frontend's Jinja macros under the portal's templates, and the
errors a citizen can meet, each a page in plain English."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
)

from portal.security import ENDED, NONCE, SESSION
from portal.session import csrf_token
from projections import wording

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SERVICE_NAME = "Check who has used your data"


def _day(value: date | datetime | str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return wording.day(value)
    return wording.day_of(value)


def _time(value: datetime | str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return wording.time_of_day(value)


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(HERE / "templates"),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=True,
        # The templates are the package's files: not checked on disk at every render
        # (a dozen stat calls a page); a changed template needs the process restarted.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _day
    env.filters["time"] = _time
    return env


ENVIRONMENT = _environment()


def session_of(request: Request) -> dict[str, Any]:
    session: dict[str, Any] = request.state.portal_session
    return session


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = session_of(request)
    page = ENVIRONMENT.get_template(template).render(
        cspNonce=getattr(request.state, NONCE),
        csrf_token=csrf_token(session),
        signed_in_as=session.get("name"),
        production=request.app.state.settings.env == "production",
        serviceName=SERVICE_NAME,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status)


class PortalError(Exception):
    """An error page: its status, title and paragraphs of plain English."""

    def __init__(self, status: int, title: str, *paragraphs: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.paragraphs = paragraphs


class SignInNeeded(Exception):
    """A page for signed-in citizens, visited by someone not signed in."""


def not_found() -> PortalError:
    return PortalError(
        404,
        "Page not found",
        "If you typed the web address, check it is correct.",
        "If you pasted the web address, check you copied the entire address.",
        "If you followed a link to an entry, it may not be one of yours: you can only see "
        "what has happened to your own data.",
    )


def form_refused() -> PortalError:
    return PortalError(
        403,
        "Sorry, we could not send that form",
        "The form was not sent from this service, or it came from a page you opened before "
        "you last signed in.",
        "Go back, reload the page and try again.",
    )


SESSION_ENDED_TITLE = "Your session has ended"


def session_has_ended() -> PortalError:
    return PortalError(
        401,
        SESSION_ENDED_TITLE,
        "You were signed out because you did not do anything for a while. We do this to "
        "keep your information secure.",
    )


def broken() -> PortalError:
    return PortalError(
        500,
        "Sorry, there is a problem with the service",
        "Try again later. Nothing you sent has been lost.",
    )


async def error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInNeeded):
        return RedirectResponse("/sign-in", status_code=303)
    assert isinstance(exc, PortalError)
    if not hasattr(request.state, SESSION):  # an asset: no session was loaded
        setattr(request.state, SESSION, {})
    return render(
        request,
        "error.html",
        status=exc.status,
        title=exc.title,
        paragraphs=exc.paragraphs,
        session_ended=exc.title == SESSION_ENDED_TITLE,
    )


def session_ended(request: Request) -> bool:
    return bool(getattr(request.state, ENDED, False))
