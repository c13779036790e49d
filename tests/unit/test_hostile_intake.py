"""No byte string stops the intake: whatever arrives ends as a submission or a refusal
with a stable reason, never as an exception the write path would have to catch
(``unprocessable`` is its safety net for the ledger's own faults), and a refusal never
quotes an identifier it was sent. What the intake accepts can also be applied and
stored: its changes raise nothing but the recording rules' own refusals (hypothesis).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_emitter import canonical

from ledger.catalogue import Submission
from ledger.domain import InvariantViolated
from ledger.refusals import Reason, Refusal
from ledger.transcoding import ledger_transcoder
from tests.support.garbage import odd_leaves
from tests.support.hostile import (
    KEY,
    STORY,
    byte_damage,
    cloudevent_shaped,
    deep_texts,
    json_texts,
    sign_or_none,
    signed_hostile,
    story_intake,
    wide_texts,
)

MAPPER: Mapper[UUID] = Mapper(transcoder=ledger_transcoder())
INTAKE = story_intake()
HOSTILE = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


def ends_well(raw: bytes, carried: Sequence[str] = ()) -> Submission | Refusal:
    """The submission ``raw`` makes, or its refusal: a stable reason that is not the
    write path's safety net, with no identifier ``raw`` carried in what it says."""
    try:
        return INTAKE.assess(raw)
    except Refusal as refusal:
        assert isinstance(refusal.reason, Reason)
        assert refusal.reason is not Reason.UNPROCESSABLE
        said = f"{refusal} {refusal.pointer}"
        for identifier in carried:
            assert identifier not in said, f"the refusal quotes {identifier!r}: {said}"
        return refusal


def _story_states() -> list[dict[UUID, Aggregate]]:
    """The aggregates as they stand before each step of the worked story."""
    store: dict[UUID, Aggregate] = {}
    states = []
    for _, event in STORY:
        states.append(copy.deepcopy(store))
        for change in INTAKE.assess(canonical(event)).changes:
            if change.apply is not None:
                store[change.aggregate_id] = change.apply(store.get(change.aggregate_id))
                store[change.aggregate_id].collect_events()
    return states


STATES = _story_states()


def applies_and_stores(submission: Submission, state: dict[UUID, Aggregate]) -> None:
    """Apply the submission's changes as the ledger would, and store and read back every
    event they make: only the recording rules may say no."""
    state = copy.deepcopy(state)
    for change in submission.changes:
        if change.fact is not None:
            MAPPER.to_domain_event(change.fact)
            continue
        assert change.apply is not None
        try:
            aggregate = change.apply(state.get(change.aggregate_id))
        except (InvariantViolated, Refusal):
            return
        state[change.aggregate_id] = aggregate
        for event in aggregate.collect_events():
            MAPPER.to_domain_event(MAPPER.to_stored_event(event))


@HOSTILE
@given(raw=st.one_of(st.binary(max_size=3000), st.binary(max_size=10).map(lambda b: b * 3000)))
def test_any_bytes_end_as_a_stable_refusal(raw: bytes) -> None:
    assert isinstance(ends_well(raw), Refusal)


@HOSTILE
@given(raw=st.one_of(json_texts, deep_texts(), wide_texts(), json_texts.flatmap(byte_damage)))
def test_any_json_text_ends_as_a_stable_refusal(raw: bytes) -> None:
    assert isinstance(ends_well(raw), Refusal)


@HOSTILE
@given(raw=st.one_of(cloudevent_shaped(), cloudevent_shaped().flatmap(byte_damage)))
def test_a_cloudevent_lookalike_naming_the_registered_key_ends_as_a_stable_refusal(
    raw: bytes,
) -> None:
    assert isinstance(ends_well(raw), Refusal)


@HOSTILE
@given(hostile=signed_hostile())
def test_a_signed_event_with_hostile_content_is_refused_or_recordable(
    hostile: tuple[int, bytes, list[str]],
) -> None:
    step, raw, carried = hostile
    outcome = ends_well(raw, carried)
    if isinstance(outcome, Submission):
        applies_and_stores(outcome, STATES[step])


@HOSTILE
@given(raw=signed_hostile().flatmap(lambda h: byte_damage(h[1])))
def test_a_signed_event_damaged_in_transit_ends_as_a_submission_or_a_stable_refusal(
    raw: bytes,
) -> None:
    assert isinstance(ends_well(raw), Submission | Refusal)


def test_every_worked_example_is_accepted_applied_and_stored() -> None:
    for step, (_, event) in enumerate(STORY):
        applies_and_stores(INTAKE.assess(canonical(event)), STATES[step])


def test_every_value_of_every_example_made_odd_is_refused_or_recordable() -> None:
    # Hypothesis rarely lands on one member with one odd value; this tries them all.
    for step, event in odd_leaves():
        signed = sign_or_none(event, KEY)
        outcome = ends_well(canonical(signed)) if signed is not None else None
        if isinstance(outcome, Submission):
            applies_and_stores(outcome, STATES[step])
