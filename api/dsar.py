"""What the DSAR routes share: signing an action with the organisation's DSAR service key
and handing it to the one write path, and the words a requester is told of their rights."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import Request
from ledger_emitter import canonical
from starlette.concurrency import run_in_threadpool

from api.problems import Problem
from ledger.dsar.keys import DsarNotEnabled, DsarSigners
from ledger.incoming import Direct, HttpRequest, Incoming, Origin, Status
from ledger.refusals import Reason
from projections.wording import UK

COMPLAINT_RIGHTS = (
    "If you are unhappy with this answer, you can complain to the Information "
    "Commissioner's Office (ICO): ico.org.uk/make-a-complaint, or call 0303 123 1113. "
    "You can also ask a court to order the organisation to comply (UK GDPR Article 79)."
)


def today_uk() -> date:
    """Today, in the UK (the day a deadline is counted in)."""
    return datetime.now(UK).date()


async def emit(
    request: Request,
    organisation: str,
    event_type: str,
    data: dict[str, Any],
    at: datetime,
    principal: Any = None,
) -> int:
    """Sign ``data`` as an event of ``organisation``'s DSAR service and record it through
    the write path; its ledger position, or a problem saying why it was refused."""
    signers: DsarSigners = request.app.state.dsar
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
        except DsarNotEnabled:
            raise Problem(
                409,
                "dsar-not-enabled",
                "This organisation does not run its requests through the ledger",
                "an administrator enables it with `ledger dsar enable CODE`",
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
            raise Problem(409, "invariant-violated", "That is impossible in the case's state", refusal.detail)
        if refusal.reason in (Reason.TIME_IN_PAST, Reason.TIME_IN_FUTURE):
            raise Problem(400, str(refusal.reason), "The time given is outside what the ledger accepts", refusal.detail)
        raise Problem(
            422,
            "refused-by-ledger",
            "The ledger refused the event",
            f"{refusal.reason}: {refusal.detail}",
        )
    raise AssertionError("unreachable")
