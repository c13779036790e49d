"""A citizen's signed receipt of one change to one of their consents, as the API and
the portal both serve it (:mod:`ledger.receipts` builds and checks it).

The consent view says whose consent changed at a ledger position, and which changes
came before; the log gives each change's disclosable form, its inclusion proof against
one signed tree head, and the opening of the citizen's own commitment. A change not yet
sealed into the log answers ``503`` with ``Retry-After``: the sealer signs a new tree
head every ``LEDGER_SEAL_INTERVAL_SECONDS``, so the same request succeeds in a moment
with nothing for the caller to change (a ``409`` would say the request conflicts with
the resource's state, which it does not).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from api.problems import Problem
from ledger.receipts import CannotIssue, ProvenEvent, build_receipt
from ledger.transparency.checkpoint import LogSigner
from ledger.transparency.reader import LogLookupError, LogReader
from projections.reading import ViewReader

NOT_FOUND = Problem(404, "receipt-not-found", "You have no consent that changed there")
NOT_YET = ("not-yet-sealed", "leaf-not-in-tree", "no-tree-head")


def _not_sealed() -> Problem:
    return Problem(
        503,
        "not-yet-sealed",
        "This change is not in the log yet",
        "the ledger recorded it but has not sealed it into a signed tree yet; try again "
        "in a moment",
        headers={"Retry-After": "1"},
    )


def _evidence(
    log: LogReader, positions: list[int], subject_key: str
) -> tuple[list[ProvenEvent], dict[str, str] | None]:
    """Each change's disclosable form and inclusion proof against the latest signed
    tree head, and the opening of the citizen's commitment in the first."""
    head = log.latest_head()
    size = head.head.tree_size
    events, opening = [], None
    for position in positions:
        proof = log.inclusion(position, size)
        shown = log.event(position, openings_for=frozenset({subject_key}))
        if opening is None:
            found = (o.to_json() for o in shown.openings if o.pointer == "/subject_key")
            opening = next(found, None)
        events.append(ProvenEvent(position, shown.content, proof))
    return events, opening


async def consent_receipt(
    views: ViewReader, log: LogReader, signer: LogSigner, subject_key: str, position: int
) -> dict[str, Any]:
    """The signed receipt of the change at ``position`` to one of the subject's own
    consents: 404 when no consent of theirs changed there, 503 until it is sealed."""
    change = await views.consent_change([subject_key], position)
    if change is None:
        raise NOT_FOUND
    names = await views.organisation_names([change["controller"]])
    try:
        events, opening = await run_in_threadpool(
            _evidence, log, list(change["positions"]), subject_key
        )
    except LogLookupError as exc:
        if exc.code in NOT_YET:
            raise _not_sealed() from None
        raise NOT_FOUND from None
    if opening is None:  # the first change names someone else: never theirs
        raise NOT_FOUND
    try:
        return build_receipt(
            events, opening, names.get(change["controller"], change["controller"]), signer
        )
    except CannotIssue as exc:
        raise Problem(
            409, "receipt-unavailable", "A receipt cannot be made for this change", str(exc)
        ) from None
