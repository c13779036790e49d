"""A service's key signs the canonical event without its signature, and names itself."""

from __future__ import annotations

from datetime import UTC, datetime

import nacl.exceptions
import nacl.signing
import pytest
from ledger_emitter import (
    Emitter,
    SigningKey,
    b64url,
    b64url_decode,
    canonical,
    key_id_for,
    signing_input,
    stable_id,
)

KEY = SigningKey(bytes(range(32)))
SOURCE = "urn:ledger:service:test:case-system"


def checks_out(event: dict[str, object], public_key: bytes) -> bool:
    """Ed25519 over the signing input, as any verifier would check it."""
    signature = b64url_decode(str(event["signature"]))
    try:
        nacl.signing.VerifyKey(public_key).verify(signing_input(event), signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def test_a_signed_event_names_its_key_and_verifies_over_everything_but_the_signature() -> None:
    unsigned = {"specversion": "1.0", "id": "1", "source": SOURCE, "data": {"a": 1}}
    event = KEY.sign(unsigned)

    assert event["signingkey"] == KEY.key_id
    assert signing_input(event) == canonical({**unsigned, "signingkey": KEY.key_id})
    assert checks_out(event, KEY.public_key)
    assert not checks_out({**event, "data": {"a": 2}}, KEY.public_key)
    assert not checks_out(event, SigningKey.generate().public_key)


def test_signing_again_replaces_the_signature_and_the_key_named() -> None:
    other = SigningKey.generate()
    again = other.sign(KEY.sign({"id": "1"}))
    assert again["signingkey"] == other.key_id
    assert checks_out(again, other.public_key)


def test_the_key_id_derives_from_the_public_key() -> None:
    assert KEY.key_id == key_id_for(KEY.public_key)
    assert KEY.key_id.startswith("ed25519:") and len(KEY.key_id) == 8 + 32
    assert SigningKey.generate().key_id != KEY.key_id


def test_base64url_has_no_padding_and_decodes_with_or_without_it() -> None:
    assert b64url(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b64url_decode("-_8=") == b"\xfb\xff"
    assert len(KEY.sign({"id": "1"})["signature"]) == 86


def test_a_stable_id_is_the_same_for_the_same_fact_and_differs_per_source() -> None:
    assert stable_id("urn:a", "claim-1", "viewed") == stable_id("urn:a", "claim-1", "viewed")
    assert stable_id("urn:a", "claim-1") != stable_id("urn:b", "claim-1")
    assert stable_id("urn:a", "claim-1", "viewed") != stable_id("urn:a", "claim-1viewed")


def test_a_built_event_is_a_signed_cloudevent_of_the_service_timed_in_utc() -> None:
    when = datetime(2026, 11, 2, 10, 30, tzinfo=UTC).astimezone()  # any offset
    event = Emitter(SOURCE, KEY).build(
        "uk.gov.ledger.consent-given.v1", {"a": 1}, event_id="e-1", time=when
    )
    assert {k: event[k] for k in ("specversion", "id", "source", "type", "time", "data")} == {
        "specversion": "1.0",
        "id": "e-1",
        "source": SOURCE,
        "type": "uk.gov.ledger.consent-given.v1",
        "time": "2026-11-02T10:30:00Z",
        "data": {"a": 1},
    }
    assert checks_out(event, KEY.public_key)


def test_an_emitter_without_a_transport_says_so() -> None:
    with pytest.raises(RuntimeError, match="no transport"):
        Emitter(SOURCE, KEY).emit("uk.gov.ledger.consent-given.v1", {})
