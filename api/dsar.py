"""What the DSAR routes share: signing an action with the organisation's DSAR service key
and handing it to the one write path, and the words a requester is told of their rights."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime
from typing import Any

import orjson
import psycopg
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from ledger_emitter import canonical
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.problems import Problem
from api.schemas.cases import Accepted
from ledger.dsar.bundle import Case, Controller, ResponseBundle
from ledger.dsar.redaction import RedactionDecision
from ledger.held_keys import HeldSigners, NotEnabled
from ledger.incoming import Direct, HttpRequest, Incoming, Origin, Status
from ledger.refusals import Reason
from ledger.transparency.store import BUNDLES_TABLE
from projections import cases as case_view
from projections.cases import CaseRow, uk_day
from projections.dsar_search import assemble_bundle
from projections.wording import UK

COMPLAINT_RIGHTS = (
    "If you are unhappy with this answer, you can complain to the Information "
    "Commissioner's Office (ICO): ico.org.uk/make-a-complaint, or call 0303 123 1113. "
    "You can also ask a court to order the organisation to comply (UK GDPR Article 79)."
)


# How a response bundle is served: the signed JSON document, or a rendering of it.
BUNDLE_MEDIA = {
    "application/json": {"schema": {"type": "object"}},
    "text/html": {"schema": {"type": "string"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
}


# How long a response waits for the sealer to cover the records it found.
SEALING_WAIT_SECONDS = 5.0
SEALING_POLL_SECONDS = 0.5


def today_uk() -> date:
    """Today, in the UK (the day a deadline is counted in)."""
    return datetime.now(UK).date()


# Why an organisation holds no key of a held service, in the words of an API answer.
NOT_ENABLED = {
    "dsar": "This organisation does not run its requests through the ledger",
    "portal": "This organisation does not take changes made online through the ledger",
}


async def emit(
    request: Request,
    organisation: str,
    event_type: str,
    data: dict[str, Any],
    at: datetime,
    principal: Any = None,
    signers: HeldSigners | None = None,
) -> int:
    """Sign ``data`` as an event of ``organisation``'s DSAR service (or of the held
    service ``signers`` sign for) and record it through the write path; its ledger
    position, or a problem saying why it was refused."""
    signers = signers or request.app.state.dsar
    write_path = request.app.state.write_path
    origin: Origin = Direct()
    if principal is not None and principal.organisation:
        origin = HttpRequest(
            request_id=str(uuid.uuid4()),
            organisation=principal.organisation,
            caller=principal.subject,
        )
    for attempt in (1, 2):
        try:
            emitter = await run_in_threadpool(signers.emitter, organisation)
        except NotEnabled:
            kind = signers.service.kind
            raise Problem(
                409,
                f"{kind}-not-enabled",
                NOT_ENABLED[kind],
                f"an administrator enables it with `ledger {kind} enable CODE`",
            ) from None
        event = emitter.build(event_type, data, event_id=str(uuid.uuid4()), time=at)
        (outcome,) = await run_in_threadpool(
            write_path.submit, [Incoming(canonical(event), origin)]
        )
        if outcome.status is not Status.REFUSED:
            return int(outcome.position)
        refusal = outcome.refusal
        assert refusal is not None
        if refusal.reason in (Reason.RETIRED_KEY, Reason.UNKNOWN_KEY) and attempt == 1:
            await run_in_threadpool(signers.refresh, organisation)  # rotated: look again
            continue
        if refusal.reason is Reason.INVARIANT_VIOLATED:
            raise Problem(
                409, "invariant-violated", "That is impossible in the case's state", refusal.detail
            )
        if refusal.reason in (Reason.TIME_IN_PAST, Reason.TIME_IN_FUTURE):
            raise Problem(
                400,
                str(refusal.reason),
                "The time given is outside what the ledger accepts",
                refusal.detail,
            )
        raise Problem(
            422,
            "refused-by-ledger",
            "The ledger refused the event",
            f"{refusal.reason}: {refusal.detail}",
        )
    raise AssertionError("unreachable")


def build_bundle_for(
    request: Request, case: CaseRow, decisions: list[dict[str, Any]], organisation_name: str
) -> ResponseBundle:
    """Gather and sign the response bundle of ``case`` (in a worker thread: it reads the
    log and the views with a connection of its own), and keep it, sealed.

    A bundle proves only records sealed into a signed tree head. The sealer runs every
    second, so records the search found but that are not sealed yet are waited for, up
    to ``SEALING_WAIT_SECONDS``; any still unsealed then are left out, and the bundle says
    how many."""
    state = request.app.state
    settings = state.settings
    redactions = [
        RedactionDecision(
            position=row["item_position"],
            field=row["field"],
            disclose=row["disclose"],
            officer=row["officer_key"] or "an officer",
            reason=row["reason"],
            at=row["at"],
        )
        for row in decisions
    ]
    give_up = time.monotonic() + SEALING_WAIT_SECONDS
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        while True:
            bundle = assemble_bundle(
                conn,
                state.log,
                state.keyring,
                state.log_signer,
                organisation=Controller(
                    code=case.organisation, name=organisation_name, nation=case.nation
                ),
                case=Case(reference=case.reference, received=uk_day(case.received_at)),
                subject_key=case.subject_key,
                decisions=redactions,
            )
            if not bundle.not_yet_sealed or time.monotonic() >= give_up:
                break
            time.sleep(SEALING_POLL_SECONDS)
        conn.execute(
            f"INSERT INTO {BUNDLES_TABLE} (sha256, organisation, reference, sealed) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
            (
                bundle.sha256,
                case.organisation,
                case.reference,
                state.keyring.seal(bundle.json_bytes),
            ),
        )
    return bundle


async def case_once_shown(
    request: Request,
    position: int,
    organisation: str,
    kind: str,
    reference: str,
    views: tuple[str, ...] = ("cases",),
) -> CaseRow | None:
    """The case as the case view shows it once ``views`` have applied the ledger
    ``position`` an action was recorded at; None if they have not within the
    read-your-writes bound (``LEDGER_READ_WAIT_SECONDS``)."""
    reader = request.app.state.views
    if not await reader.reached(position, views, request.app.state.settings.read_wait_seconds):
        return None
    return await case_view.case_by_reference(reader, organisation, kind, reference)


def shown(body: BaseModel, position: int, status: int = 200) -> JSONResponse:
    """A case as it now stands, with the ledger position its last action was recorded at."""
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status,
        headers={"Ledger-Position": str(position)},
    )


def accepted(reference: str, position: int) -> JSONResponse:
    """202: the action is recorded in the ledger, and the view has not shown it yet."""
    return shown(
        Accepted(
            reference=reference,
            position=position,
            detail="Recorded in the ledger; it will show shortly",
        ),
        position,
        202,
    )


async def stored_bundle(request: Request, sha256: str) -> ResponseBundle | None:
    """The bundle a ``responded`` event records, as it was sent."""
    views = request.app.state.views
    rows = await views.rows(
        f"SELECT sealed FROM {BUNDLES_TABLE} WHERE sha256 = %s",  # noqa: S608
        (sha256,),
    )
    if not rows:
        return None
    raw = request.app.state.keyring.open(bytes(rows[0]["sealed"]))
    bundle = ResponseBundle(orjson.loads(raw), raw)
    if bundle.sha256 != sha256:  # the bytes kept are the bytes hashed
        raise Problem(500, "bundle-altered", "The stored response does not match its record")
    return bundle


def bundle_response(bundle: ResponseBundle, form: str, reference: str) -> Response:
    """The bundle as JSON (exactly the bytes hashed), a readable page, or a PDF."""
    name = f"{reference.replace('/', '-')}-response"
    if form == "html":
        return Response(bundle.html(), media_type="text/html; charset=utf-8")
    if form == "pdf":
        return Response(
            bundle.pdf(),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return Response(
        bundle.json_bytes,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
    )
