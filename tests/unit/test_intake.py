"""The intake accepts exactly the authentic, well-formed events, and says why it refuses."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ledger_emitter import SigningKey, canonical

from ledger.catalogue import CATALOGUE
from ledger.catalogue.examples import EXAMPLE_SOURCE, published_test_key, signed_story
from ledger.intake import Intake, RegisteredKey
from ledger.keyring import Keyring
from ledger.refusals import Reason, Refusal
from tests.support.spellings import arabic_indic, full_width

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
KEY = published_test_key()
STORY = dict(signed_story())
ACCESS = STORY["data-accessed.v1.json"]


class Registry:
    """A fake key registry (pure unit tests only)."""

    def __init__(self, *keys: RegisteredKey) -> None:
        self.keys = {k.key_id: k for k in keys}

    def key(self, key_id: str) -> RegisteredKey | None:
        return self.keys.get(key_id)


def registered(key: SigningKey = KEY, **changes: Any) -> RegisteredKey:
    base = RegisteredKey(
        key.key_id,
        key.public_key,
        EXAMPLE_SOURCE,
        "DWP",
        frozenset(CATALOGUE),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    return dataclasses.replace(base, **changes)


def intake(*keys: RegisteredKey) -> Intake:
    return Intake(
        Registry(*(keys or (registered(),))),
        Keyring(b"\x0f" * 32),
        max_bytes=65536,
        max_future=timedelta(minutes=5),
        max_past=timedelta(days=30),
        clock=lambda: NOW,
    )


def refusal(raw: bytes, *keys: RegisteredKey) -> Refusal:
    with pytest.raises(Refusal) as refused:
        intake(*keys).assess(raw)
    return refused.value


def resigned(event: dict[str, Any], key: SigningKey = KEY, **changes: Any) -> bytes:
    return canonical(key.sign({**event, **changes}))


@pytest.mark.parametrize("name", sorted(STORY))
def test_every_worked_example_is_accepted(name: str) -> None:
    submission = intake().assess(canonical(STORY[name]))
    assert submission.key == (EXAMPLE_SOURCE, STORY[name]["id"])
    assert submission.changes


def test_accepts_the_exact_bytes_whatever_their_layout() -> None:
    pretty = json.dumps(ACCESS, indent=4, sort_keys=True).encode()
    assert intake().assess(pretty).raw_sha256 != intake().assess(canonical(ACCESS)).raw_sha256


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"x" * 70_000, Reason.OVERSIZED),
        (b'{"id": ', Reason.MALFORMED_JSON),
        (b"\xff\xfe", Reason.MALFORMED_JSON),
        (b'{"a": 1, "a": 2}', Reason.MALFORMED_JSON),
        (b"[1, 2]", Reason.NOT_A_CLOUDEVENT),
        (b'{"specversion": "1.0", "id": "1", "source": "s"}', Reason.NOT_A_CLOUDEVENT),
        (b'{"specversion": "0.3", "id": "1", "source": "s", "type": "t"}', Reason.NOT_A_CLOUDEVENT),
    ],
)
def test_refuses_what_is_not_a_strict_json_cloudevent(raw: bytes, reason: Reason) -> None:
    assert refusal(raw).reason == reason


def test_refuses_unknown_types_and_versions() -> None:
    assert refusal(resigned(ACCESS, type="uk.gov.ledger.data-accessed.v2")).reason == (
        Reason.UNKNOWN_VERSION
    )
    assert refusal(resigned(ACCESS, type="uk.gov.ledger.gossip.v1")).reason == Reason.UNKNOWN_TYPE


def test_refuses_unsigned_forged_and_unknown_key_events() -> None:
    unsigned = {k: v for k, v in ACCESS.items() if k != "signature"}
    assert refusal(canonical(unsigned)).reason == Reason.BAD_SIGNATURE
    altered = {**ACCESS, "data": {**ACCESS["data"], "record": "medical history"}}
    assert refusal(canonical(altered)).reason == Reason.BAD_SIGNATURE
    stranger = SigningKey.generate()
    assert refusal(resigned(ACCESS, key=stranger)).reason == Reason.UNKNOWN_KEY


def test_a_schema_violation_names_the_json_pointer() -> None:
    data = {**ACCESS["data"], "action": "photocopied"}
    refused = refusal(resigned(ACCESS, data=data))
    assert (refused.reason, refused.pointer) == (Reason.SCHEMA_VIOLATION, "/data/action")
    data = {**ACCESS["data"], "subjects": [{"scheme": "nino", "value": "not a nino"}]}
    assert refusal(resigned(ACCESS, data=data)).pointer == "/data/subjects/0/value"


def test_an_nhs_number_with_a_wrong_check_digit_is_an_invalid_subject() -> None:
    data = {**ACCESS["data"], "subjects": [{"scheme": "nhs-number", "value": "9434765918"}]}
    refused = refusal(resigned(ACCESS, data=data))
    assert (refused.reason, refused.pointer) == (Reason.INVALID_SUBJECT, "/data/subjects/0")


@pytest.mark.parametrize(
    "value", ["AB123456C\n", full_width("AB123456C"), arabic_indic("AB123456C")]
)
def test_a_nino_spelt_with_a_newline_or_other_digits_is_refused_not_a_second_person(
    value: str,
) -> None:
    data = {**ACCESS["data"], "subjects": [{"scheme": "nino", "value": value}]}
    refused = refusal(resigned(ACCESS, data=data))
    assert (refused.reason, refused.pointer) == (
        Reason.SCHEMA_VIOLATION,
        "/data/subjects/0/value",
    )
    assert "AB" not in refused.detail


def test_refuses_a_signer_outside_its_source_types_or_organisation() -> None:
    assert refusal(resigned(ACCESS, source="urn:other")).reason == Reason.NOT_AUTHORISED
    only_shares = registered(event_types=frozenset({"uk.gov.ledger.data-shared.v1"}))
    assert refusal(canonical(ACCESS), only_shares).pointer == "/type"
    data = {**ACCESS["data"], "accessor": {**ACCESS["data"]["accessor"], "organisation": "HMRC"}}
    refused = refusal(resigned(ACCESS, data=data))
    assert (refused.reason, refused.pointer) == (
        Reason.NOT_AUTHORISED,
        "/data/accessor/organisation",
    )


def test_refuses_times_too_far_ahead_or_behind() -> None:
    ahead = (NOW + timedelta(minutes=6)).isoformat()
    behind = (NOW - timedelta(days=31)).isoformat()
    assert refusal(resigned(ACCESS, time=ahead)).reason == Reason.TIME_IN_FUTURE
    assert refusal(resigned(ACCESS, time=behind)).reason == Reason.TIME_IN_PAST
    no_offset = refusal(resigned(ACCESS, time="2026-11-02T09:40:00"))
    assert (no_offset.reason, no_offset.pointer) == (Reason.SCHEMA_VIOLATION, "/time")


def test_a_rotated_key_signs_only_what_happened_before_the_rotation() -> None:
    rotated_at = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    key = registered(retired_at=rotated_at)
    assert intake(key).assess(canonical(ACCESS))  # 09:40, before the rotation
    later = resigned(ACCESS, time="2026-11-02T12:00:00Z")
    assert refusal(later, key).reason == Reason.RETIRED_KEY


def test_a_revoked_key_is_refused_for_events_claiming_a_later_time() -> None:
    key = registered(retired_at=datetime(2026, 11, 2, 12, 0, tzinfo=UTC), revoked=True)
    assert intake(key).assess(canonical(ACCESS))
    refused = refusal(resigned(ACCESS, time="2026-11-02T13:00:00Z"), key)
    assert (refused.reason, refused.pointer) == (Reason.REVOKED_KEY, "/time")


def test_the_submission_carries_the_sealed_bytes_and_pseudonyms_only() -> None:
    keyring = Keyring(b"\x0f" * 32)
    submission = intake().assess(canonical(ACCESS))
    assert keyring.open(submission.raw_sealed) == canonical(ACCESS)
    assert b"9434765919" not in submission.raw_sealed
    fact = submission.changes[0].fact
    assert fact is not None
    assert b"9434765919" not in fact.state
    assert json.loads(fact.state)["subject_keys"]  # pseudonyms are there instead


def test_a_date_time_member_that_is_not_rfc_3339_is_a_schema_violation() -> None:
    given = STORY["consent-given.v1.json"]
    refused = refusal(resigned(given, data={**given["data"], "expires_at": "next Tuesday"}))
    assert (refused.reason, refused.pointer) == (Reason.SCHEMA_VIOLATION, "/data/expires_at")


@pytest.mark.parametrize(
    "member, value",
    [("id", "access-1\n"), ("data", {**ACCESS["data"], "purpose": {"code": "uc\n", "text": "x"}})],
)
def test_a_trailing_newline_is_refused_wherever_a_pattern_applies(member: str, value: Any) -> None:
    # Python's `$` matches before a final newline; every published pattern says `$(?!\n)`.
    event = KEY.sign({**ACCESS, member: value})
    assert refusal(canonical(event)).reason is Reason.SCHEMA_VIOLATION


def test_every_published_pattern_ends_without_a_final_newline() -> None:
    from ledger.catalogue import schema_document

    def patterns(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
            return found + [p for item in node.values() for p in patterns(item)]
        if isinstance(node, list):
            return [p for item in node for p in patterns(item)]
        return []

    every = {p for kind in CATALOGUE.values() for p in patterns(schema_document(kind))}
    assert every and all(p.endswith("$(?!\\n)") for p in every)
