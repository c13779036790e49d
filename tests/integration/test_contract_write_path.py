"""The ledger's write path for stateful aggregates: order, invariants, idempotency, size."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from ledger_emitter import Emitter, canonical

from ledger.application import Ledger
from ledger.catalogue import CONSENT_GIVEN, CONSENT_WITHDRAWN, DATA_SHARED
from ledger.catalogue.examples import EXAMPLE_SOURCE, published_test_key, signed_story
from ledger.domain.consent import Consent
from ledger.intake import Intake
from ledger.refusals import Reason, Refusal
from ledger.settings import Settings
from tests.support.contract import EXAMPLE_NOW, example_intake, register_example_service
from tests.support.stream import nhs_numbers

pytestmark = pytest.mark.integration

STORY = dict(signed_story())
GIVEN = STORY["consent-given.v1.json"]["data"]
WITHDRAWN = STORY["consent-withdrawn.v1.json"]["data"]
SHARE = STORY["data-shared.v1.json"]["data"]
EMITTER = Emitter(EXAMPLE_SOURCE, published_test_key())
T = EXAMPLE_NOW - timedelta(hours=6)


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger.from_settings(settings)
    register_example_service(ledger)
    yield ledger
    ledger.close()


@pytest.fixture
def intake(ledger: Ledger, settings: Settings) -> Intake:
    return example_intake(ledger, settings)


def _raw(kind: str, data: dict[str, Any], event_id: str, minutes: int = 0) -> bytes:
    return canonical(
        EMITTER.build(kind, data, event_id=event_id, time=T + timedelta(minutes=minutes))
    )


def test_a_consent_given_and_withdrawn_in_one_batch_is_applied_in_order(
    ledger: Ledger, intake: Intake
) -> None:
    batch = [
        intake.assess(_raw(CONSENT_GIVEN, GIVEN, "give")),
        intake.assess(_raw(CONSENT_WITHDRAWN, WITHDRAWN, "withdraw", minutes=1)),
    ]
    outcome = ledger.record_batch(batch)

    assert outcome.refused == {} and len(outcome.appended) == 3  # two purposes, one withdrawn
    consent = ledger.repository.get(batch[1].changes[0].aggregate_id)
    assert isinstance(consent, Consent) and consent.state == "withdrawn"


def test_a_withdrawal_dated_before_the_consent_is_refused_and_stored(
    ledger: Ledger, intake: Intake, settings: Settings
) -> None:
    outcome = ledger.record_batch(
        [
            intake.assess(_raw(CONSENT_GIVEN, GIVEN, "give", minutes=10)),
            intake.assess(_raw(CONSENT_WITHDRAWN, WITHDRAWN, "withdraw-too-early", minutes=5)),
        ]
    )
    assert list(outcome.refused) == [1]
    assert outcome.refused[1].reason == Reason.INVARIANT_VIOLATED
    assert outcome.refused[1].detail.startswith("time-order")


def test_an_event_for_several_purposes_is_recorded_all_or_nothing(
    ledger: Ledger, intake: Intake
) -> None:
    ledger.record_batch(
        [intake.assess(_raw(CONSENT_GIVEN, {**GIVEN, "purposes": GIVEN["purposes"][:1]}, "one"))]
    )
    both = intake.assess(_raw(CONSENT_GIVEN, GIVEN, "both", minutes=1))  # first is already given
    outcome = ledger.record_batch([both])

    assert list(outcome.refused) == [0] and outcome.appended == []
    with pytest.raises(Exception, match="not found"):
        ledger.repository.get(both.changes[1].aggregate_id)


def test_a_duplicate_of_a_stateful_event_is_recorded_once_with_its_first_position(
    ledger: Ledger, intake: Intake
) -> None:
    raw = _raw(CONSENT_GIVEN, GIVEN, "give")
    first = ledger.record_batch([intake.assess(raw), intake.assess(raw)])
    later = ledger.record_batch([intake.assess(raw)])

    assert first.duplicates == [1] and first.positions[1] == first.positions[0]
    assert later.appended == [] and later.positions[0] == first.positions[0]


def test_a_share_with_no_agreement_and_no_registered_parties_is_recorded_not_judged(
    ledger: Ledger, intake: Intake
) -> None:
    data = {**SHARE, "agreement": None, "recipient": "ACME-LTD"}
    outcome = ledger.record_batch([intake.assess(_raw(DATA_SHARED, data, "no-agreement"))])
    assert outcome.refused == {} and len(outcome.appended) == 1


def test_bulk_shares_are_capped_per_event_or_sent_as_a_manifest(intake: Intake) -> None:
    subjects = [{"scheme": "nhs-number", "value": n} for n in nhs_numbers(1001)]
    assert intake.assess(_raw(DATA_SHARED, {**SHARE, "subjects": subjects[:1000]}, "bulk"))
    with pytest.raises(Refusal) as too_many:
        intake.assess(_raw(DATA_SHARED, {**SHARE, "subjects": subjects}, "too-many"))
    assert (too_many.value.reason, too_many.value.pointer) == (
        Reason.SCHEMA_VIOLATION,
        "/data/subjects",
    )
    manifest = {k: v for k, v in SHARE.items() if k != "subjects"}
    manifest["manifest"] = {"sha256": "ab" * 32, "subject_count": 250_000}
    submission = intake.assess(_raw(DATA_SHARED, manifest, "manifest"))
    fact = submission.changes[0].fact
    assert fact is not None and orjson.loads(fact.state)["subject_count"] == 250_000


def test_a_batch_too_large_for_one_save_is_split_and_completes(
    ledger: Ledger, intake: Intake
) -> None:
    # 30 shares of 1,000 subjects (~2 MB of sealed envelopes): far over the size at which
    # eventsourcing's pipeline-mode insert can hang (DESIGN.md); the ledger must not.
    subjects = [{"scheme": "nhs-number", "value": n} for n in nhs_numbers(1000, seed=3)]
    batch = [
        intake.assess(_raw(DATA_SHARED, {**SHARE, "subjects": subjects}, f"bulk-{i}"))
        for i in range(30)
    ]
    outcomes: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(ledger.record_batch(batch)), daemon=True
    )
    worker.start()
    worker.join(timeout=120)

    assert not worker.is_alive(), "the save hung"
    assert len(outcomes[0].appended) == 30 and len(set(outcomes[0].positions.values())) == 30
