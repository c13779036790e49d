"""Shared dependencies of the routes: what the application holds (views, log, keys,
settings, database), the citizen's own subject, read-your-writes, and typed parameters."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request
from psycopg_pool import AsyncConnectionPool
from pydantic import BeforeValidator, WithJsonSchema

from api.auth.policy import Citizen, require_own_subject
from api.problems import Problem
from ledger.application import Ledger
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.subjects import InvalidIdentifier, Pseudonymiser, SubjectId, SubjectKey
from ledger.transparency.reader import LogReader
from projections.reading import ViewReader
from projections.timeline import erased_key
from projections.wording import UK


# The app's parts, handed to routes. ``async`` so that FastAPI calls them on the event
# loop: a plain ``def`` dependency is run in a worker thread, which costs a hot route
# more than its own work.
async def view_reader(request: Request) -> ViewReader:
    reader: ViewReader = request.app.state.views
    return reader


async def log_reader(request: Request) -> LogReader:
    reader: LogReader = request.app.state.log
    return reader


async def ledger_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def pseudonymiser(request: Request) -> Pseudonymiser:
    pseudonyms: Pseudonymiser = request.app.state.keyring.pseudonymiser
    return pseudonyms


async def database(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


async def service_directory(request: Request) -> Callable[[str], str | None]:
    """Who a service (an event's ``source``) belongs to: its organisation's code."""
    ledger: Ledger = request.app.state.write_path.ledger
    return ledger.organisation_of


Views = Annotated[ViewReader, Depends(view_reader)]
Log = Annotated[LogReader, Depends(log_reader)]
SettingsDep = Annotated[Settings, Depends(ledger_settings)]
Pseudonyms = Annotated[Pseudonymiser, Depends(pseudonymiser)]
Database = Annotated[AsyncConnectionPool, Depends(database)]
OrganisationOf = Annotated[Callable[[str], str | None], Depends(service_directory)]


def parse_subject(text: str) -> SubjectId:
    """A typed identifier from ``scheme:value``; 400 (naming no value) if it is not one."""
    try:
        return SubjectId.from_text(text)
    except InvalidIdentifier as exc:
        raise Problem(
            400, "invalid-subject", "The subject identifier is not valid", str(exc)
        ) from None


@dataclass(frozen=True)
class CitizenSubject:
    """One of the caller's own linked identifiers, and its pseudonym."""

    id: SubjectId
    key: SubjectKey
    # The key their erased entries are kept under ("details removed": ledger.erasure).
    erased: str = ""

    @property
    def timeline_keys(self) -> list[str]:
        """The keys of this subject's timeline: their pseudonym, and their erased entries."""
        return [self.key, self.erased] if self.erased else [self.key]


def citizen_subject(keyring: Keyring, subject_id: SubjectId) -> CitizenSubject:
    """A citizen's subject with its pseudonym and the key of its erased entries."""
    key = keyring.pseudonymiser.subject_key(subject_id)
    return CitizenSubject(subject_id, key, erased_key(keyring.vault().tag(key)))


async def own_subject(
    subject: Annotated[
        str,
        Path(
            description="scheme:value, one of the caller's linked identifiers",
            examples=["nhs-number:9434765919"],
        ),
    ],
    principal: Citizen,
    request: Request,
) -> CitizenSubject:
    """The citizen's subject named in the path: 400 if it is not an identifier, 403 if it
    is not linked to the caller (whether anything is recorded about it or not)."""
    found = citizen_subject(request.app.state.keyring, parse_subject(subject))
    require_own_subject(principal, found.key)
    return found


OwnSubject = Annotated[CitizenSubject, Depends(own_subject)]

# PostgreSQL's bigint: a ledger position or tree size past it names nothing.
MAX_POSITION = 2**63 - 1


def read_your_writes(
    *views: str, after: Callable[..., Awaitable[object]]
) -> Callable[..., Awaitable[None]]:
    """A dependency: once ``after`` (the route's own authorisation) has let the caller in,
    wait, within the configured bound, until ``views`` have applied the ledger position
    the caller names (``?position=`` or the ``Ledger-Position`` header, as returned by
    ``POST /v1/events``); 503 with Retry-After if they have not. A caller who may not
    read the route is refused at once, whatever position they name."""

    async def wait(
        reader: Views,
        settings: SettingsDep,
        # A default, not an annotation: annotations are strings here, and ``after`` a local.
        _: object = Depends(after),
        position: Annotated[
            int | None,
            Query(
                ge=1,
                le=MAX_POSITION,
                description="Wait until the view includes this ledger position",
            ),
        ] = None,
        ledger_position: Annotated[int | None, Header(ge=1, le=MAX_POSITION)] = None,
    ) -> None:
        wanted = position or ledger_position
        if not wanted:
            return
        bound = settings.read_wait_seconds
        if not await reader.reached(wanted, views, bound):
            raise Problem(
                503,
                "view-behind",
                "The view has not caught up with that position yet",
                f"waited {bound:g} s; try again shortly",
                headers={"Retry-After": "1"},
            )

    return wait


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_MOMENT_RULE = "must be an RFC 3339 date (2026-01-31) or date-time (2026-01-31T09:30:00Z)"


def _moment(value: Any) -> date | datetime:
    # Strings only, in one of RFC 3339's two forms: pydantic would read "0" as 1970.
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if _DATE.fullmatch(value):
                return date.fromisoformat(value)
            if _DATE_TIME.fullmatch(value):
                return datetime.fromisoformat(value.upper()).astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # a 13th month, or an offset that takes it past year 9999
    raise ValueError(_MOMENT_RULE)


Moment = Annotated[
    date | datetime,
    BeforeValidator(_moment),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ]
        }
    ),
]


def _day(value: Any) -> date:
    # A string in RFC 3339's date form only: pydantic would read 0 as 1970-01-01.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be an RFC 3339 date, e.g. 2026-01-31")


Day = Annotated[
    date,
    BeforeValidator(_day),
    WithJsonSchema({"type": "string", "format": "date"}),
]


def uk_day(moment: date | datetime) -> date:
    """The day a moment falls on in UK time (a date is its own day)."""
    return moment.astimezone(UK).date() if isinstance(moment, datetime) else moment


ORGANISATION = "^[A-Z0-9][A-Z0-9-]{1,31}$"
CODE = "^[a-z0-9][a-z0-9._-]{0,63}$"
Organisation = Annotated[
    str | None, Query(pattern=ORGANISATION, description="organisation code, e.g. DWP")
]
