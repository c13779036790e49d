"""The key registry on a real ledger: registered, rotated, revoked, unknown."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from ledger_emitter import Emitter, SigningKey, b64url, canonical

from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED, KEY_REVOKED, KEY_ROTATED
from ledger.catalogue.examples import EXAMPLE_SOURCE, published_test_key, signed_story
from ledger.intake import Intake
from ledger.refusals import Reason, Refusal
from ledger.settings import Settings
from tests.support.contract import EXAMPLE_NOW, example_intake, register_example_service
from tests.support.ledger import administration

pytestmark = pytest.mark.integration

ACCESS = dict(signed_story())["data-accessed.v1.json"]["data"]
BEFORE, AT, AFTER = (EXAMPLE_NOW - timedelta(hours=h) for h in (3, 2, 1))


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger.from_settings(settings)
    register_example_service(ledger)
    yield ledger
    ledger.close()


def _access(key: SigningKey, at: datetime, event_id: str) -> bytes:
    return canonical(
        Emitter(EXAMPLE_SOURCE, key).build(DATA_ACCESSED, ACCESS, event_id=event_id, time=at)
    )


def _refused(intake: Intake, raw: bytes) -> Reason:
    with pytest.raises(Refusal) as refused:
        intake.assess(raw)
    return refused.value.reason


def test_after_rotation_the_old_key_signs_only_what_happened_before(
    ledger: Ledger, settings: Settings
) -> None:
    old, new = published_test_key(), SigningKey.generate()
    administration(ledger).rotate_key(EXAMPLE_SOURCE, old.key_id, new.public_key, AT)
    intake = example_intake(ledger, settings)

    assert intake.assess(_access(old, BEFORE, "before"))
    assert _refused(intake, _access(old, AFTER, "after")) == Reason.RETIRED_KEY
    assert intake.assess(_access(new, AFTER, "new-key"))


def test_after_revocation_events_claiming_a_later_time_are_refused(
    ledger: Ledger, settings: Settings
) -> None:
    key = published_test_key()
    intake = example_intake(ledger, settings)
    assert intake.assess(_access(key, AFTER, "cached-first"))  # the registry is now cached

    administration(ledger).revoke_key(EXAMPLE_SOURCE, key.key_id, "lost", AT)

    assert intake.assess(_access(key, BEFORE, "signed-before"))
    assert _refused(intake, _access(key, AFTER, "signed-after")) == Reason.REVOKED_KEY


def test_an_unknown_key_is_refused(ledger: Ledger, settings: Settings) -> None:
    stranger = SigningKey.generate()
    reason = _refused(example_intake(ledger, settings), _access(stranger, AFTER, "x"))
    assert reason == Reason.UNKNOWN_KEY


def test_a_service_rotates_and_revokes_by_signed_events_and_another_process_sees_it(
    ledger: Ledger, settings: Settings
) -> None:
    key, successor = published_test_key(), SigningKey.generate()
    emitter = Emitter(EXAMPLE_SOURCE, key)
    intake = example_intake(ledger, settings)
    elsewhere = Ledger.from_settings(settings)  # another process's registry cache
    try:
        other_intake = example_intake(elsewhere, settings)
        assert other_intake.assess(_access(key, AFTER, "warm-the-cache"))
        rotation = emitter.build(
            KEY_ROTATED,
            {
                "service": EXAMPLE_SOURCE,
                "old_key_id": key.key_id,
                "public_key": b64url(successor.public_key),
            },
            event_id="rotate",
            time=AT,
        )
        outcome = ledger.record_batch([intake.assess(canonical(rotation))])
        assert outcome.refused == {} and len(outcome.appended) == 1

        elsewhere.refresh_registry()  # what happens within a second anyway
        assert _refused(other_intake, _access(key, AFTER, "old")) == Reason.RETIRED_KEY
        revocation = Emitter(EXAMPLE_SOURCE, successor).build(
            KEY_REVOKED,
            {"service": EXAMPLE_SOURCE, "key_id": successor.key_id, "reason": "lost"},
            event_id="revoke",
            time=AFTER,
        )
        assert ledger.record_batch([intake.assess(canonical(revocation))]).refused == {}
        elsewhere.refresh_registry()
        late = _access(successor, EXAMPLE_NOW, "late")
        assert _refused(other_intake, late) == Reason.REVOKED_KEY
    finally:
        elsewhere.close()


def test_a_key_cannot_be_rotated_twice_from_the_same_old_key(
    ledger: Ledger, settings: Settings
) -> None:
    key = published_test_key()
    emitter = Emitter(EXAMPLE_SOURCE, key)
    intake = example_intake(ledger, settings)
    first, second = (
        emitter.build(
            KEY_ROTATED,
            {
                "service": EXAMPLE_SOURCE,
                "old_key_id": key.key_id,
                "public_key": b64url(SigningKey.generate().public_key),
            },
            event_id=f"rotate-{n}",
            time=BEFORE,
        )
        for n in (1, 2)
    )
    outcome = ledger.record_batch(
        [intake.assess(canonical(first)), intake.assess(canonical(second))]
    )
    # The second is signed by the key the first one retired, from the same time: it is
    # refused as the next batch's intake would refuse it.
    assert list(outcome.refused) == [1]
    assert outcome.refused[1].reason == Reason.RETIRED_KEY
    assert "out of use" in outcome.refused[1].detail


def test_a_key_registered_today_may_sign_events_about_yesterday(
    ledger: Ledger, settings: Settings
) -> None:
    # Only rotation and revocation bound a key, by the event's claimed time: back-filled
    # events signed with a new key are accepted.
    fresh = SigningKey.generate()
    administration(ledger).register_key(EXAMPLE_SOURCE, fresh.public_key, EXAMPLE_NOW)
    assert example_intake(ledger, settings).assess(_access(fresh, BEFORE, "back-filled"))


def test_a_revocation_applies_to_later_events_of_the_same_batch(
    ledger: Ledger, settings: Settings
) -> None:
    key = published_test_key()
    intake = example_intake(ledger, settings)
    revocation = Emitter(EXAMPLE_SOURCE, key).build(
        KEY_REVOKED,
        {"service": EXAMPLE_SOURCE, "key_id": key.key_id, "reason": "laptop stolen"},
        event_id="revoke-now",
        time=AT,
    )
    # Both pass the intake: the registry it reads does not know the revocation yet.
    batch = [
        intake.assess(canonical(revocation)),
        intake.assess(_access(key, BEFORE, "signed-before")),
        intake.assess(_access(key, AFTER, "claims-later")),
    ]

    outcome = ledger.record_batch(batch)

    assert sorted(outcome.refused) == [2]
    assert outcome.refused[2].reason == Reason.REVOKED_KEY
    assert len(outcome.appended) == 2  # the revocation and the earlier access


def test_the_registry_reads_up_to_the_head_and_then_only_what_is_new(
    ledger: Ledger, settings: Settings
) -> None:
    key = published_test_key()
    intake = example_intake(ledger, settings)
    ledger.record_batch([intake.assess(_access(key, BEFORE, f"access-{n}")) for n in range(20)])
    ledger.refresh_registry()
    head = ledger.recorder.max_notification_id()
    assert ledger.registry_position == head  # not the last key event's position

    successor = SigningKey.generate()
    rotation = Emitter(EXAMPLE_SOURCE, key).build(
        KEY_ROTATED,
        {
            "service": EXAMPLE_SOURCE,
            "old_key_id": key.key_id,
            "public_key": b64url(successor.public_key),
        },
        event_id="rotate-after-the-accesses",
        time=AT,
    )
    ledger.record_batch([intake.assess(canonical(rotation))])
    ledger.refresh_registry()

    assert _refused(intake, _access(key, AFTER, "after-rotation")) == Reason.RETIRED_KEY
