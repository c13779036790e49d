"""A citizen's choices made online: giving or withdrawing a consent, setting or lifting
an objection, each as a signed event of the controller's *portal* service.

A consent or objection is the controller's record (the catalogue lets a service record
one only for its own organisation), so a change a citizen makes in the portal is signed
by a service of that organisation: ``urn:ledger:service:<org>:portal``, a service whose
key the ledger holds (:mod:`ledger.held_keys`), registered by the administrators when
the organisation opts in (``ledger portal enable ORG``). By opting in, the organisation
accepts what its citizens do there as their choice, made to it. The event goes through
the one write path like any other, so the audit checks it back to the root of trust.

Giving consent again re-uses the terms the citizen agreed to before (data categories,
lawful basis, and the notice that was shown, by version and hash), collected online: the
portal shows the same notice again and never invents terms. What an event says is built
here, from the citizen's identifier and the record as the consent view holds it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledger.catalogue.consents import (
    CONSENT_GIVEN,
    CONSENT_WITHDRAWN,
    OBJECTION_LIFTED,
    OBJECTION_SET,
)
from ledger.held_keys import HeldService
from ledger.subjects import SubjectId

PORTAL_TYPES = frozenset({CONSENT_GIVEN, CONSENT_WITHDRAWN, OBJECTION_SET, OBJECTION_LIFTED})

# A citizen's choice is recorded when it is made: the key need not be valid any earlier.
PORTAL = HeldService(
    "portal",
    "citizen portal",
    "Choices citizens make online",
    PORTAL_TYPES.__contains__,
    timedelta(0),
)


class CannotChange(ValueError):
    """The record cannot be changed online, in its state or at all; says why in words."""


def _about(subject: SubjectId, controller: str, purpose: dict[str, Any]) -> dict[str, Any]:
    return {
        "subjects": [{"scheme": subject.scheme, "value": subject.value}],
        "controller": controller,
        "purposes": [{"code": purpose["code"], "text": purpose["text"]}],
    }


def withdrawal(subject: SubjectId, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``consent-withdrawn`` event that withdraws ``record`` (a row of the consent
    view: ``controller``, ``purpose``, ``state``)."""
    if record["state"] not in ("given", "renewed"):
        raise CannotChange("You have not given this consent, so there is nothing to withdraw.")
    return CONSENT_WITHDRAWN, _about(subject, record["controller"], record["purpose"])


def consent_again(subject: SubjectId, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``consent-given`` event that gives ``record`` again, on the terms agreed
    before, collected online with the same notice; it lasts until withdrawn."""
    if record["state"] not in ("withdrawn", "expired"):
        raise CannotChange("You have already given this consent.")
    terms = record["terms"]
    notice = (terms.get("collection") or {}).get("notice")
    if notice is None or "data_categories" not in terms:
        raise CannotChange(
            "We do not know what you would be agreeing to, so you cannot give this consent "
            "again here. Contact the organisation."
        )
    data = _about(subject, record["controller"], record["purpose"])
    data["data_categories"] = terms["data_categories"]
    if "lawful_basis" in terms:
        data["lawful_basis"] = terms["lawful_basis"]
    data["collection"] = {"method": "online", "notice": notice}
    data["expires_at"] = None
    return CONSENT_GIVEN, data


def objection(
    subject: SubjectId, controller: str, purpose: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The ``objection-set`` event of an objection (UK GDPR Article 21) to
    ``controller`` using the citizen's data for ``purpose``.

    It carries no grounds: a citizen's account of their situation is theirs to give the
    organisation, not a line of a log kept for years and shown to auditors."""
    data = _about(subject, controller, purpose)
    data["kind"] = "objection"
    return OBJECTION_SET, data


def lifting(subject: SubjectId, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``objection-lifted`` event that lifts ``record`` (a row of the consent view)."""
    if record["state"] != "in-force":
        raise CannotChange("This objection is not in force, so there is nothing to lift.")
    if record["controller"] == "*":
        raise CannotChange(
            "This is a national opt-out. You cannot change it here: use the service you "
            "set it with."
        )
    return OBJECTION_LIFTED, _about(subject, record["controller"], record["purpose"])
