"""What an officer may do to a case, and when: the case's state machine. Pure.

The domain aggregate (:mod:`ledger.domain.dsar`) records what a service reports, and
refuses only the impossible (a second answer, an action on a closed case): recording is
not judging. The officers' API is stricter, because it is the ledger's own product and
an officer can be told at once: it checks each action here before the event is signed,
and answers a refusal as problem details with the rule's code.

The rules (ICO right-of-access guidance; UK GDPR Art. 12(3)-(5)):

- nothing is done to a closed case; an answered (responded or refused) case may only be
  closed;
- identity is recorded as verified once, and only when it was asked for;
- a clarification is asked for once at a time, and its answer recorded only when one
  was asked for;
- the time may be extended once, with a reason, and only by the date the requester must
  be told of it (the end of the first month, paused days counted): later, the deadline
  has in effect passed without the extension being notified;
- no response while identity asked for is not yet verified, or while a clarification is
  awaited (the answer may change what is asked for);
- a refusal states a reason, and the right to complain to the ICO and to go to court is
  always given with it;
- a request is closed only once it has been answered (responded or refused);
- a query is answered once, with an explanation; that ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

REQUEST, QUERY = "request", "query"


class State(StrEnum):
    AWAITING_IDENTITY = "awaiting-identity"  # the clock has not started
    IN_PROGRESS = "in-progress"  # the clock runs
    PAUSED = "paused"  # a clarification is awaited: the clock is stopped
    RESPONDED = "responded"
    REFUSED = "refused"
    OPEN = "open"  # a query not yet answered
    ANSWERED = "answered"  # a query answered
    CLOSED = "closed"


# The states of a case still to be dealt with (the officers' queue shows these first).
OPEN_STATES = frozenset({State.AWAITING_IDENTITY, State.IN_PROGRESS, State.PAUSED, State.OPEN})


class Action(StrEnum):
    VERIFY_IDENTITY = "identity-verified"
    REQUEST_CLARIFICATION = "clarification-requested"
    RECEIVE_CLARIFICATION = "clarification-received"
    EXTEND = "extended"
    RESPOND = "responded"
    REFUSE = "refused"
    CLOSE = "closed"
    DECIDE_REDACTION = "redaction-decided"
    ANSWER = "answered"


REQUEST_ACTIONS = frozenset(Action) - {Action.ANSWER}
# A query ends when it is answered: the catalogue has no event that closes one.
QUERY_ACTIONS = frozenset({Action.ANSWER})


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the rules need to know of a case (the case view keeps these)."""

    kind: str = REQUEST
    identity_required: bool = False
    identity_verified: bool = False
    awaiting_clarification: bool = False
    extended: bool = False
    outcome: str | None = None  # "responded", "refused" or, for a query, "answered"
    closed: bool = False

    @property
    def state(self) -> State:
        if self.closed:
            return State.CLOSED
        if self.kind == QUERY:
            return State.ANSWERED if self.outcome == "answered" else State.OPEN
        if self.outcome == "responded":
            return State.RESPONDED
        if self.outcome == "refused":
            return State.REFUSED
        if self.identity_required and not self.identity_verified:
            return State.AWAITING_IDENTITY
        if self.awaiting_clarification:
            return State.PAUSED
        return State.IN_PROGRESS


class NotAllowed(Exception):
    """The action is not allowed in the case's state; ``code`` is stable, ``detail`` says
    why in a sentence an officer can act on."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def check(
    facts: CaseFacts,
    action: Action,
    *,
    today: date,
    notice_by: date | None = None,
    reason: str | None = None,
) -> None:
    """Raise :class:`NotAllowed` unless ``action`` may be taken on the case today.

    ``notice_by`` is the date by which an extension must be notified (from the clock;
    None while the clock has not started); ``reason`` the reason given, where the action
    needs one.
    """
    allowed = QUERY_ACTIONS if facts.kind == QUERY else REQUEST_ACTIONS
    if action not in allowed:
        what = "a query about an access" if facts.kind == QUERY else "a subject access request"
        raise NotAllowed("not-for-this-kind", f"{action} is not an action on {what}")
    state = facts.state
    if state is State.CLOSED:
        raise NotAllowed("case-closed", "the case is closed: nothing more can be done on it")
    if action is Action.CLOSE:
        if facts.outcome is None:
            raise NotAllowed(
                "not-answered",
                "a case is closed only once it has been answered (responded or refused)"
                if facts.kind == REQUEST
                else "a query is closed only once it has been answered",
            )
        return
    if facts.outcome is not None:
        raise NotAllowed(
            "case-answered", f"the case was already {facts.outcome}: it can only be closed now"
        )
    if action in (Action.EXTEND, Action.REFUSE, Action.ANSWER, Action.DECIDE_REDACTION) and not (
        reason and reason.strip()
    ):
        raise NotAllowed("reason-required", f"{action} needs a reason")
    _check_request_action(facts, action, state, today, notice_by)


def _check_request_action(
    facts: CaseFacts, action: Action, state: State, today: date, notice_by: date | None
) -> None:
    if action is Action.VERIFY_IDENTITY:
        if not facts.identity_required:
            raise NotAllowed(
                "identity-not-required", "identity was not asked for when the case was opened"
            )
        if facts.identity_verified:
            raise NotAllowed("identity-verified", "identity is already recorded as verified")
    elif action is Action.REQUEST_CLARIFICATION:
        if facts.awaiting_clarification:
            raise NotAllowed(
                "clarification-pending", "a clarification is already awaited: record its answer"
            )
    elif action is Action.RECEIVE_CLARIFICATION:
        if not facts.awaiting_clarification:
            raise NotAllowed("no-clarification-pending", "no clarification was asked for")
    elif action is Action.EXTEND:
        if facts.extended:
            raise NotAllowed("already-extended", "the time was already extended once")
        if state is State.AWAITING_IDENTITY:
            raise NotAllowed(
                "clock-not-started",
                "the time limit has not started: identity is not yet verified",
            )
        if notice_by is not None and today > notice_by:
            raise NotAllowed(
                "extension-too-late",
                f"an extension had to be notified by {notice_by.isoformat()} "
                "(the end of the first month)",
            )
    elif action is Action.RESPOND:
        if state is State.AWAITING_IDENTITY:
            raise NotAllowed(
                "identity-not-verified",
                "identity was asked for and is not yet verified: record it first",
            )
        if state is State.PAUSED:
            raise NotAllowed(
                "clarification-pending",
                "a clarification is awaited: record its answer before responding",
            )
