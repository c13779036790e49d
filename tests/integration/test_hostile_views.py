"""Whatever the intake accepts, the views can take: no odd but valid value in a recorded
event stops the projection runner (a view that cannot apply an event holds up every
view and every reader behind it)."""

from __future__ import annotations

from collections import Counter

import pytest
from ledger_emitter import canonical

from ledger.application import Ledger
from ledger.incoming import Direct, Incoming, Status
from ledger.refusals import Reason
from ledger.settings import Settings
from ledger.writing import WritePath
from projections.runner import LogReader, ViewRunner, connect, prepare_views
from projections.view import tracked_positions
from projections.views import all_projections
from tests.support.contract import example_intake, register_example_service
from tests.support.garbage import odd_leaves
from tests.support.hostile import KEY, STORY, sign_or_none, unsigned

pytestmark = pytest.mark.integration


def odd_but_signed() -> list[bytes]:
    """The worked story, then each example with one leaf made odd (a fresh id, so each
    is an event of its own), signed by the examples' key."""
    sent = [canonical(event) for _, event in STORY]
    for number, (step, event) in enumerate(odd_leaves()):
        if event.get("id") == unsigned(step)["id"]:
            event["id"] = f"odd-{number}"
        signed = sign_or_none(event, KEY)
        if signed is not None:
            sent.append(canonical(signed))
    return sent


def test_every_event_with_an_odd_value_the_intake_accepts_reaches_every_view(
    settings: Settings, ledger: Ledger
) -> None:
    register_example_service(ledger)
    write = WritePath(ledger, example_intake(ledger, settings))
    sent = odd_but_signed()
    outcomes = []
    for start in range(0, len(sent), 500):
        outcomes += write.submit([Incoming(raw, Direct()) for raw in sent[start : start + 500]])
    refused = Counter(o.refusal.reason for o in outcomes if o.refusal is not None)
    assert Reason.UNPROCESSABLE not in refused
    assert sum(o.status is Status.RECORDED for o in outcomes) > 500

    projections = all_projections()
    prepare_views(settings, projections)
    with connect(settings) as conn:
        ViewRunner(projections, LogReader(ledger), conn).catch_up()
        with conn.cursor() as curs:
            reached = tracked_positions(curs, [p.schema for p in projections])
    head = LogReader(ledger).head()
    assert reached == [head] * len(projections)
