"""Administration of data sharing agreements: registered, amended, ended by a party."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.catalogue.administration import Build, creating, no_party
from ledger.catalogue.entry import EVERY_ORGANISATION, PREFIX, Change, EventType, Received, evidence
from ledger.catalogue.vocabulary import array, obj, ref, text
from ledger.domain import InvariantViolated
from ledger.domain.agreement import DataSharingAgreement
from ledger.keyring import Keyring
from ledger.refusals import Reason, Refusal

AGREEMENT_REGISTERED = PREFIX + "agreement-registered.v1"
AGREEMENT_AMENDED = PREFIX + "agreement-amended.v1"
AGREEMENT_ENDED = PREFIX + "agreement-ended.v1"


def _agreement_registered(received: Received, keyring: Keyring) -> Sequence[Change]:
    terms, submission = dict(received.data["agreement"]), evidence(received, keyring)
    reference = terms.pop("reference")
    return creating(
        DataSharingAgreement.create_id(reference),
        "agreement",
        lambda: DataSharingAgreement(
            reference=reference, terms=terms, at=received.occurred_at, submission=submission
        ),
    )


def _on_agreement(step: Callable[[DataSharingAgreement, Received, dict[str, Any]], None]) -> Build:
    """A builder for a change to an agreement the signer's organisation is party to."""

    def build(received: Received, keyring: Keyring) -> Sequence[Change]:
        submission = evidence(received, keyring)

        def apply(current: Aggregate | None) -> Aggregate:
            if not isinstance(current, DataSharingAgreement):
                raise InvariantViolated("agreement-unknown", "no agreement with this reference")
            if received.signer_organisation not in (EVERY_ORGANISATION, *current.parties):
                raise Refusal(
                    Reason.NOT_AUTHORISED,
                    f"{received.signer_organisation} is not a party to this agreement",
                    "/data/reference",
                )
            step(current, received, submission)
            return current

        return (Change(DataSharingAgreement.create_id(received.data["reference"]), apply),)

    return build


_PARTY = obj(
    ["organisation", "role"],
    {
        "organisation": ref("organisation"),
        "role": {"enum": ["controller", "joint-controller", "processor"]},
    },
)
_TERMS = {
    "title": text(200),
    "parties": array(_PARTY, 2, 20),
    "purposes": array(ref("coded"), 1, 20),
    "legal_gateway": ref("coded"),
    "lawful_basis": ref("lawful_basis"),
    "data_categories": array(ref("category"), 1, 100),
    "starts_on": ref("day"),
    "ends_on": {"anyOf": [ref("day"), {"type": "null"}]},
    "retention": ref("retention"),
    "rights_contact": text(300, "Who handles rights requests about the shared data"),
    "review_on": ref("day"),
}
_AGREEMENT = obj(["reference", *_TERMS], {"reference": ref("reference"), **_TERMS})


TYPES = (
    EventType(
        AGREEMENT_REGISTERED,
        "Data sharing agreement registered (v1)",
        "A data sharing agreement was registered by one of its parties.",
        obj(["agreement"], {"agreement": _AGREEMENT}),
        _agreement_registered,
        lambda d: (
            [p["organisation"] for p in d["agreement"]["parties"]],
            "/data/agreement/parties",
        ),
    ),
    EventType(
        AGREEMENT_AMENDED,
        "Data sharing agreement amended (v1)",
        "Terms of an agreement changed; the terms named replace the old ones from this "
        "event's time.",
        obj(
            ["reference", "changes", "reason"],
            {
                "reference": ref("reference"),
                "changes": {**obj([], _TERMS), "minProperties": 1},
                "reason": text(500),
            },
        ),
        _on_agreement(
            lambda a, r, s: a.amend(r.data["changes"], r.data["reason"], r.occurred_at, s)
        ),
        no_party,
    ),
    EventType(
        AGREEMENT_ENDED,
        "Data sharing agreement ended (v1)",
        "An agreement ended; shares after this time have no agreement in force.",
        obj(["reference", "reason"], {"reference": ref("reference"), "reason": text(500)}),
        _on_agreement(lambda a, r, s: a.end(r.data["reason"], r.occurred_at, s)),
        no_party,
    ),
)
