"""Aggregates check their invariants before anything is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain import InvariantViolated
from ledger.domain.agreement import DataSharingAgreement
from ledger.domain.consent import Consent, Objection
from ledger.domain.dsar import SubjectAccessRequest
from ledger.domain.registry import KeyNotUsable, Service

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PURPOSE = {"code": "research", "text": "research"}


def _consent(at: datetime = T0) -> Consent:
    return Consent(
        subject_key="k",
        controller="DWP",
        purpose=PURPOSE,
        terms={},
        at=at,
        expires_at=None,
        submission=None,
    )


def _request(identity_required: bool = False) -> SubjectAccessRequest:
    return SubjectAccessRequest(
        organisation="DWP",
        reference="SAR-1",
        subject_key="k",
        channel="online",
        requester="subject",
        identity_required=identity_required,
        at=T0,
        submission=None,
    )


def test_a_consent_is_given_withdrawn_and_given_again() -> None:
    consent = _consent()
    consent.withdraw(T0 + timedelta(days=1), None)
    consent.give_again(T0 + timedelta(days=2), None, {}, None)
    assert consent.state == "given"
    names = [type(e).__name__ for e in consent.collect_events()]
    assert names == ["Given", "Withdrawn", "GivenAgain"]


def test_a_consent_cannot_be_withdrawn_before_it_was_given() -> None:
    consent = _consent()
    with pytest.raises(InvariantViolated) as broken:
        consent.withdraw(T0 - timedelta(minutes=1), None)
    assert broken.value.rule == "time-order"
    assert consent.state == "given" and consent.version == 1


def test_a_withdrawn_consent_cannot_be_withdrawn_or_expire_again() -> None:
    consent = _consent()
    consent.withdraw(T0, None)
    for change in (lambda: consent.withdraw(T0, None), lambda: consent.expire(T0, None)):
        with pytest.raises(InvariantViolated, match="withdrawn"):
            change()


def test_an_expired_consent_may_be_renewed() -> None:
    consent = _consent()
    consent.expire(T0 + timedelta(days=365), None)
    consent.renew(T0 + timedelta(days=366), None, {}, None)
    assert consent.active


def test_an_objection_is_lifted_only_while_in_force() -> None:
    objection = Objection(
        subject_key="k", controller=None, purpose=PURPOSE, grounds=None, at=T0, submission=None
    )
    objection.lift(T0, None)
    with pytest.raises(InvariantViolated):
        objection.lift(T0, None)
    objection.set_again(T0, None, None)
    assert objection.in_force


def test_a_closed_request_cannot_be_answered() -> None:
    request = _request()
    request.close(T0, None)
    with pytest.raises(InvariantViolated) as broken:
        request.respond(T0, {"bundle_sha256": "0" * 64, "channel": "portal"}, None)
    assert broken.value.rule == "request-closed"


def test_an_answered_request_cannot_be_refused_or_answered_again() -> None:
    request = _request()
    request.respond(T0, {}, None)
    for change in (lambda: request.refuse(T0, {}, None), lambda: request.respond(T0, {}, None)):
        with pytest.raises(InvariantViolated, match="already responded"):
            change()


def test_the_clock_is_stopped_and_restarted_only_in_turn() -> None:
    request = _request()
    with pytest.raises(InvariantViolated, match="no clarification"):
        request.receive_clarification(T0, None)
    request.request_clarification(T0, None)
    with pytest.raises(InvariantViolated, match="already awaited"):
        request.request_clarification(T0, None)
    request.receive_clarification(T0, None)


def test_extensions_total_at_most_two_months() -> None:
    request = _request()
    request.extend(T0, 1, "complex", None)
    request.extend(T0, 1, "numerous", None)
    with pytest.raises(InvariantViolated, match="at most 2 months"):
        request.extend(T0, 1, "more", None)


def test_identity_is_verified_once() -> None:
    request = _request(identity_required=True)
    request.verify_identity(T0, "one-login", None)
    with pytest.raises(InvariantViolated):
        request.verify_identity(T0, "one-login", None)


def test_a_key_is_rotated_only_while_current_and_revoked_once() -> None:
    service = Service(source="s", organisation="DWP", name="n", event_types=[])
    service.register_key("k1", "00", T0)
    service.rotate_key("k1", "k2", "11", T0 + timedelta(days=1))
    assert service.keys == {"k1": T0 + timedelta(days=1), "k2": None}
    with pytest.raises(KeyNotUsable, match="no longer current"):
        service.rotate_key("k1", "k3", "22", T0 + timedelta(days=2))
    service.revoke_key("k2", T0 + timedelta(days=3), "lost")
    with pytest.raises(KeyNotUsable, match="already revoked"):
        service.revoke_key("k2", T0 + timedelta(days=4), "lost")
    with pytest.raises(KeyNotUsable, match="not registered"):
        service.revoke_key("k9", T0, "unknown")


def test_an_ended_agreement_cannot_be_amended_or_ended_again() -> None:
    agreement = DataSharingAgreement(
        reference="DSA-1",
        terms={"parties": [{"organisation": "DWP"}, {"organisation": "HMRC"}]},
        at=T0,
        submission=None,
    )
    assert agreement.parties == {"DWP", "HMRC"}
    agreement.amend({"review_on": "2027-01-01"}, "review", T0, None)
    agreement.end("replaced", T0 + timedelta(days=1), None)
    for change in (
        lambda: agreement.amend({}, "x", T0 + timedelta(days=2), None),
        lambda: agreement.end("x", T0 + timedelta(days=2), None),
    ):
        with pytest.raises(InvariantViolated, match="ended"):
            change()


def test_natural_ids_are_the_uuid5_of_the_natural_key() -> None:
    import random
    from uuid import uuid5

    from ledger.domain import NAMESPACE, natural_id

    draw = random.Random(5)
    for _ in range(2_000):
        parts = ["".join(draw.choice("abé\n:/-0") for _ in range(draw.randrange(0, 40)))]
        parts += [str(draw.random()) for _ in range(draw.randrange(0, 3))]
        assert natural_id("kind", *parts) == uuid5(NAMESPACE, "\n".join(("kind", *parts)))
    assert natural_id("kind", "x").version == 5
