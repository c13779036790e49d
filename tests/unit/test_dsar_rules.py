"""The case's state machine: what an officer may do, when, and the code of each refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.dsar.rules import QUERY, REQUEST, Action, CaseFacts, NotAllowed, State, check

TODAY = date(2026, 3, 10)
NOTICE = date(2026, 4, 3)
RUNNING = CaseFacts(kind=REQUEST)
AWAITING_ID = CaseFacts(kind=REQUEST, identity_required=True)
PAUSED = CaseFacts(kind=REQUEST, awaiting_clarification=True)
RESPONDED = CaseFacts(kind=REQUEST, outcome="responded")
CLOSED = CaseFacts(kind=REQUEST, outcome="responded", closed=True)
QUERY_OPEN = CaseFacts(kind=QUERY)


def refused(facts: CaseFacts, action: Action, **kwargs: object) -> str:
    with pytest.raises(NotAllowed) as caught:
        check(facts, action, today=kwargs.pop("today", TODAY), **kwargs)  # type: ignore[arg-type]
    return caught.value.code


def test_states() -> None:
    assert AWAITING_ID.state is State.AWAITING_IDENTITY
    assert replace(AWAITING_ID, identity_verified=True).state is State.IN_PROGRESS
    assert PAUSED.state is State.PAUSED
    assert RESPONDED.state is State.RESPONDED
    assert CLOSED.state is State.CLOSED
    assert QUERY_OPEN.state is State.OPEN
    assert replace(QUERY_OPEN, outcome="answered").state is State.ANSWERED


@pytest.mark.parametrize(
    ("facts", "action", "kwargs", "code"),
    [
        (AWAITING_ID, Action.RESPOND, {}, "identity-not-verified"),
        (PAUSED, Action.RESPOND, {}, "clarification-pending"),
        (PAUSED, Action.REQUEST_CLARIFICATION, {}, "clarification-pending"),
        (RUNNING, Action.RECEIVE_CLARIFICATION, {}, "no-clarification-pending"),
        (RUNNING, Action.VERIFY_IDENTITY, {}, "identity-not-required"),
        (
            replace(AWAITING_ID, identity_verified=True),
            Action.VERIFY_IDENTITY,
            {},
            "identity-verified",
        ),
        (replace(RUNNING, extended=True), Action.EXTEND, {"reason": "complex"}, "already-extended"),
        (
            RUNNING,
            Action.EXTEND,
            {"reason": "complex", "today": date(2026, 4, 4), "notice_by": NOTICE},
            "extension-too-late",
        ),
        (AWAITING_ID, Action.EXTEND, {"reason": "complex"}, "clock-not-started"),
        (RUNNING, Action.EXTEND, {"reason": "  "}, "reason-required"),
        (RUNNING, Action.REFUSE, {}, "reason-required"),
        (RUNNING, Action.CLOSE, {}, "not-answered"),
        (RESPONDED, Action.EXTEND, {"reason": "x"}, "case-answered"),
        (RESPONDED, Action.RESPOND, {}, "case-answered"),
        (CLOSED, Action.CLOSE, {}, "case-closed"),
        (RUNNING, Action.ANSWER, {"reason": "x"}, "not-for-this-kind"),
        (QUERY_OPEN, Action.RESPOND, {}, "not-for-this-kind"),
        (QUERY_OPEN, Action.CLOSE, {}, "not-for-this-kind"),
        (replace(QUERY_OPEN, outcome="answered"), Action.ANSWER, {"reason": "x"}, "case-answered"),
    ],
)
def test_refusals_name_the_rule(
    facts: CaseFacts, action: Action, kwargs: dict[str, object], code: str
) -> None:
    assert refused(facts, action, **kwargs) == code


@pytest.mark.parametrize(
    ("facts", "action", "kwargs"),
    [
        (AWAITING_ID, Action.VERIFY_IDENTITY, {}),
        (RUNNING, Action.REQUEST_CLARIFICATION, {}),
        (PAUSED, Action.RECEIVE_CLARIFICATION, {}),
        (RUNNING, Action.EXTEND, {"reason": "complex", "today": NOTICE, "notice_by": NOTICE}),
        (RUNNING, Action.RESPOND, {}),
        (RUNNING, Action.REFUSE, {"reason": "manifestly excessive"}),
        (RESPONDED, Action.CLOSE, {}),
        (RUNNING, Action.DECIDE_REDACTION, {"reason": "public role"}),
        (QUERY_OPEN, Action.ANSWER, {"reason": "we checked your claim"}),
    ],
)
def test_allowed(facts: CaseFacts, action: Action, kwargs: dict[str, object]) -> None:
    check(facts, action, today=kwargs.pop("today", TODAY), **kwargs)  # type: ignore[arg-type]


@given(
    facts=st.builds(
        CaseFacts,
        kind=st.sampled_from([REQUEST, QUERY]),
        identity_required=st.booleans(),
        identity_verified=st.booleans(),
        awaiting_clarification=st.booleans(),
        extended=st.booleans(),
        outcome=st.sampled_from([None, "responded", "refused", "answered"]),
        closed=st.booleans(),
    ),
    action=st.sampled_from(list(Action)),
)
def test_nothing_but_nothing_happens_to_a_closed_case(facts: CaseFacts, action: Action) -> None:
    """A closed case takes no action, and an answered one only closing."""
    if facts.closed:
        assert refused(facts, action, reason="r") in ("case-closed", "not-for-this-kind")
    elif facts.outcome is not None and action is not Action.CLOSE:
        assert refused(facts, action, reason="r") in ("case-answered", "not-for-this-kind")
