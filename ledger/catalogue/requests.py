"""The subject access request lifecycle: one case per (organisation, reference)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.catalogue.entry import PREFIX, Change, EventType, Received, evidence, subject_keys
from ledger.catalogue.vocabulary import count, obj, ref, subjects, text
from ledger.domain import InvariantViolated
from ledger.domain.dsar import MAX_EXTENSION_MONTHS, AccessQuery, SubjectAccessRequest
from ledger.keyring import Keyring

SAR = PREFIX + "sar-"
SAR_RECEIVED = SAR + "received.v1"
SAR_IDENTITY_VERIFIED = SAR + "identity-verified.v1"
SAR_CLARIFICATION_REQUESTED = SAR + "clarification-requested.v1"
SAR_CLARIFICATION_RECEIVED = SAR + "clarification-received.v1"
SAR_EXTENDED = SAR + "extended.v1"
SAR_RESPONDED = SAR + "responded.v1"
SAR_REFUSED = SAR + "refused.v1"
SAR_CLOSED = SAR + "closed.v1"
SAR_REDACTION_DECIDED = SAR + "redaction-decided.v1"
QUERY = PREFIX + "query-"
QUERY_RAISED = QUERY + "raised.v1"
QUERY_ANSWERED = QUERY + "answered.v1"

# The staff id of the DSAR officer who acted: third-party data, kept only as a keyed
# pseudonym (like an official's), and redacted from the person's copy by default.
_OFFICER = text(120, "Staff id of the officer who acted; third-party data, pseudonymised")

QUERY_CONCERNS = ("dont-recognise-organisation", "dont-recognise-reason", "other")

_CASE = obj(
    ["organisation", "reference"],
    {"organisation": ref("organisation"), "reference": ref("reference")},
    "The request, by the receiving organisation's case reference",
)

# (case, data, submission evidence, received, officer pseudonym) -> None; mutates the
# case or raises.
Step = Callable[[SubjectAccessRequest, dict[str, Any], dict[str, Any], Received, str | None], None]


def _case_id(data: dict[str, Any]) -> Any:
    return SubjectAccessRequest.create_id(data["case"]["organisation"], data["case"]["reference"])


def officer_key(data: dict[str, Any], keyring: Keyring) -> str | None:
    """The pseudonym of the officer who acted, if the event names one."""
    officer = data.get("officer")
    return keyring.pseudonymiser.opaque("official", officer) if officer else None


def _received(received: Received, keyring: Keyring) -> Sequence[Change]:
    data = received.data
    subject_key = subject_keys(data, keyring)[0]
    submission = evidence(received, keyring)

    def apply(current: Aggregate | None) -> Aggregate:
        if current is not None:
            raise InvariantViolated("request-exists", "this case reference is already in use")
        return SubjectAccessRequest(
            organisation=data["case"]["organisation"],
            reference=data["case"]["reference"],
            subject_key=subject_key,
            channel=data["channel"],
            requester=data["requester"],
            identity_required=data["identity_required"],
            at=received.occurred_at,
            submission=submission,
            officer_key=officer_key(data, keyring),
        )

    return (Change(_case_id(data), apply),)


def _later(step: Step) -> Callable[[Received, Keyring], Sequence[Change]]:
    """A builder for an event about an existing case."""

    def build(received: Received, keyring: Keyring) -> Sequence[Change]:
        submission = evidence(received, keyring)
        officer = officer_key(received.data, keyring)

        def apply(current: Aggregate | None) -> Aggregate:
            if not isinstance(current, SubjectAccessRequest):
                raise InvariantViolated("request-unknown", "no request with this case reference")
            step(current, received.data, submission, received, officer)
            return current

        return (Change(_case_id(received.data), apply),)

    return build


def _case_org(data: dict[str, Any]) -> tuple[list[str], str]:
    return [data["case"]["organisation"]], "/data/case/organisation"


def _type(
    name: str,
    title: str,
    description: str,
    data_schema: dict[str, Any],
    build: Callable[[Received, Keyring], Sequence[Change]],
) -> EventType:
    return EventType(name, title, description, data_schema, build, _case_org)


def _case_only(extra: dict[str, Any] | None = None, required: Sequence[str] = ()) -> dict[str, Any]:
    return obj(["case", *required], {"case": _CASE, "officer": _OFFICER, **(extra or {})})


TYPES = (
    _type(
        SAR_RECEIVED,
        "Subject access request received (v1)",
        "An organisation received a request for a citizen's personal data (Art. 15). The "
        "time is the receipt; the month runs from it, or from identity verification.",
        _case_only(
            {
                "subjects": subjects(1),
                "channel": {"enum": ["online", "email", "post", "phone", "in-person", "other"]},
                "requester": {"enum": ["subject", "representative"]},
                "identity_required": {
                    "type": "boolean",
                    "description": "Identity must be verified first",
                },
            },
            ["subjects", "channel", "requester", "identity_required"],
        ),
        _received,
    ),
    _type(
        SAR_IDENTITY_VERIFIED,
        "Requester's identity verified (v1)",
        "The requester's identity (or a representative's authority) was verified.",
        _case_only({"method": ref("coded")}, ["method"]),
        _later(
            lambda case, data, sub, r, o: case.verify_identity(
                r.occurred_at, data["method"]["code"], sub, o
            )
        ),
    ),
    _type(
        SAR_CLARIFICATION_REQUESTED,
        "Clarification requested (v1)",
        "The organisation asked the requester to clarify the request; the clock stops.",
        _case_only(),
        _later(lambda case, data, sub, r, o: case.request_clarification(r.occurred_at, sub, o)),
    ),
    _type(
        SAR_CLARIFICATION_RECEIVED,
        "Clarification received (v1)",
        "The requester's clarification arrived; the clock restarts.",
        _case_only(),
        _later(lambda case, data, sub, r, o: case.receive_clarification(r.occurred_at, sub, o)),
    ),
    _type(
        SAR_EXTENDED,
        "Response time extended (v1)",
        f"The deadline was extended by up to {MAX_EXTENSION_MONTHS} further months in all, "
        "for a complex or numerous request; the requester must be told within the first "
        "month, with reasons.",
        _case_only(
            {"months": {"enum": [1, 2]}, "reason": text(500), "requester_told_at": ref("instant")},
            ["months", "reason", "requester_told_at"],
        ),
        _later(
            lambda case, data, sub, r, o: case.extend(
                r.occurred_at, data["months"], data["reason"], sub, o
            )
        ),
    ),
    _type(
        SAR_RESPONDED,
        "Subject access request answered (v1)",
        "The organisation sent its response; the bundle itself stays with it, its hash here.",
        _case_only(
            {
                "response": obj(
                    ["bundle_sha256", "channel"],
                    {
                        "bundle_sha256": ref("sha256"),
                        "channel": {"enum": ["portal", "email", "post", "in-person"]},
                        "records": count(0),
                        "redactions": count(0, "Third-party items redacted"),
                    },
                )
            },
            ["response"],
        ),
        _later(lambda case, data, sub, r, o: case.respond(r.occurred_at, data["response"], sub, o)),
    ),
    _type(
        SAR_REFUSED,
        "Subject access request refused (v1)",
        "The organisation refused the request as manifestly unfounded or excessive, giving "
        "reasons and the right to complain to the ICO or go to court.",
        _case_only(
            {
                "refusal": obj(
                    ["grounds", "reason", "complaint_rights_given"],
                    {
                        "grounds": {"enum": ["manifestly-unfounded", "manifestly-excessive"]},
                        "reason": text(1000),
                        "complaint_rights_given": {"type": "boolean"},
                    },
                )
            },
            ["refusal"],
        ),
        _later(lambda case, data, sub, r, o: case.refuse(r.occurred_at, data["refusal"], sub, o)),
    ),
    _type(
        SAR_CLOSED,
        "Subject access request closed (v1)",
        "The case is closed; nothing more may happen on it.",
        _case_only(),
        _later(lambda case, data, sub, r, o: case.close(r.occurred_at, sub, o)),
    ),
    _type(
        SAR_REDACTION_DECIDED,
        "Redaction of third-party data decided (v1)",
        "An officer decided whether one item of third-party data in the response (the "
        "official named by the event at a ledger position) is disclosed to the requester or "
        "redacted, and why. Officials' identities are redacted unless a decision discloses "
        "them. The reason must not name anyone.",
        _case_only(
            {
                "item": obj(
                    ["position", "field"],
                    {
                        "position": count(1, "Ledger position of the event the item is in"),
                        "field": {"enum": ["official"]},
                    },
                ),
                "disclose": {"type": "boolean"},
                "reason": text(500),
            },
            ["item", "disclose", "reason"],
        ),
        _later(
            lambda case, data, sub, r, o: case.decide_redaction(
                r.occurred_at,
                data["item"]["position"],
                data["item"]["field"],
                data["disclose"],
                data["reason"],
                sub,
                o,
            )
        ),
    ),
)

_QUERY = obj(
    ["organisation", "reference"],
    {"organisation": ref("organisation"), "reference": ref("reference")},
    "The query, by the organisation it is routed to and the reference it was given",
)


def _query_id(data: dict[str, Any]) -> Any:
    return AccessQuery.create_id(data["query"]["organisation"], data["query"]["reference"])


def _query_raised(received: Received, keyring: Keyring) -> Sequence[Change]:
    data = received.data
    subject_key = subject_keys(data, keyring)[0]
    submission = evidence(received, keyring)

    def apply(current: Aggregate | None) -> Aggregate:
        if current is not None:
            raise InvariantViolated("query-exists", "this query reference is already in use")
        return AccessQuery(
            organisation=data["query"]["organisation"],
            reference=data["query"]["reference"],
            subject_key=subject_key,
            about_position=data["about"]["position"],
            concern=data["concern"],
            at=received.occurred_at,
            submission=submission,
        )

    return (Change(_query_id(data), apply),)


def _query_answered(received: Received, keyring: Keyring) -> Sequence[Change]:
    data = received.data
    submission = evidence(received, keyring)
    officer = officer_key(data, keyring)

    def apply(current: Aggregate | None) -> Aggregate:
        if not isinstance(current, AccessQuery):
            raise InvariantViolated("query-unknown", "no query with this reference")
        current.answer(received.occurred_at, data["explanation"], submission, officer)
        return current

    return (Change(_query_id(data), apply),)


def _query_org(data: dict[str, Any]) -> tuple[list[str], str]:
    return [data["query"]["organisation"]], "/data/query/organisation"


QUERY_TYPES = (
    EventType(
        QUERY_RAISED,
        "Query about an access raised (v1)",
        "A citizen does not recognise one entry of their record of use (a data access or "
        "share at a ledger position) and asked the organisation that made it to explain. "
        "Answered, like a subject access request, within one calendar month.",
        obj(
            ["query", "subjects", "about", "concern"],
            {
                "query": _QUERY,
                "subjects": subjects(1),
                "about": obj(
                    ["position"],
                    {"position": count(1, "Ledger position of the entry queried")},
                ),
                "concern": {
                    "enum": list(QUERY_CONCERNS),
                    "description": "What the citizen does not recognise: the organisation, "
                    "the reason given, or something else",
                },
            },
        ),
        _query_raised,
        _query_org,
    ),
    EventType(
        QUERY_ANSWERED,
        "Query about an access answered (v1)",
        "The organisation answered the citizen's query with an explanation in plain "
        "English, shown in the citizen's record.",
        obj(
            ["query", "explanation"],
            {
                "query": _QUERY,
                "officer": _OFFICER,
                "explanation": text(2000, "The answer, written for the citizen, in plain English"),
            },
        ),
        _query_answered,
        _query_org,
    ),
)
