"""Per-subject data keys (ledger.vault), as pure code: what is sealed, under which slot,
what opens with which keys, and what a destroyed, missing or altered key gives."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from ledger.transparency.disclosure import SEALED_MEMBER, TOKEN
from ledger.vault import Vault, VaultError, salt_of, text, token_slot

ALEX = "a1" * 32
SAM = "5a" * 32
OFFICIAL = "0f" * 32
ENVELOPE = base64.b64encode(b'{"subject":"nhs-number:9434765919"}' + os.urandom(64)).decode()


def vault() -> Vault:
    return Vault(b"k" * 32, b"t" * 32)


def access(*subjects: str, **more: object) -> dict[str, object]:
    return {
        "originator_version": 1,
        "subject_keys": list(subjects),
        "official_key": OFFICIAL,
        "organisation": "DWP",
        "record": "Universal Credit claim 1234",
        "purpose": {"code": "eligibility", "text": "to check your eligibility"},
        "nested": {"deeper": [{"concern": "I never applied"}]},
        "envelope_sealed": ENVELOPE,
        **more,
    }


def seal(state: dict[str, object]) -> tuple[bytes, dict[str, bytes]]:
    """The sealed state, and slot -> data key (unwrapped)."""
    v = vault()
    sealed, slots = v.seal("event/1", json.dumps(state).encode())
    return sealed, {k.slot: v.unwrap(k.wrapped) for k in slots}


PLAINTEXTS = (ALEX, OFFICIAL, "Universal Credit claim 1234", "I never applied", ENVELOPE[:40])


def test_every_personal_value_of_one_subject_is_sealed_under_one_key_and_opens_again() -> None:
    state = access(ALEX)
    sealed, keys = seal(state)

    for plain in PLAINTEXTS:
        assert plain.encode() not in sealed
    assert set(keys) == {"s0"}
    stored = json.loads(sealed)
    assert stored["organisation"] == "DWP" and stored["purpose"] == state["purpose"]
    assert all(token.startswith(TOKEN + "s0:") for token in stored["subject_keys"])
    assert stored["nested"]["deeper"][0]["concern"].startswith(TOKEN)

    opened = vault().open("event/1", sealed, keys)
    assert json.loads(opened.state) == state
    assert opened.erased == 0 and not opened.destroyed and opened.fault is None
    # Each token carries the commitment the log publishes: SHA-256(salt || text), the
    # salt a keyed BLAKE2b under the slot key, so it goes with the key.
    values = dict(opened.values)
    for pointer, token in (
        ("/subject_keys/0", stored["subject_keys"][0]),
        ("/record", stored["record"]),
        ("/nested/deeper/0/concern", stored["nested"]["deeper"][0]["concern"]),
    ):
        salt = opened.salts[pointer]
        assert salt == salt_of(keys["s0"], "event/1", pointer)
        commitment = hashlib.sha256(salt + values[pointer].encode()).hexdigest()
        assert token.rsplit(":", 1)[1] == commitment


def test_the_subject_slot_is_tagged_with_the_subject_and_the_tag_is_keyed() -> None:
    v = vault()
    _, slots = v.seal("event/1", json.dumps(access(ALEX)).encode())
    (slot,) = slots
    assert slot.subject_tag == v.tag(ALEX)
    assert Vault(b"k" * 32, b"u" * 32).tag(ALEX) != v.tag(ALEX)
    assert v.tag(SAM) != v.tag(ALEX)


def test_a_bulk_share_has_a_slot_per_subject_and_one_for_what_they_share() -> None:
    sealed, keys = seal(access(ALEX, SAM))
    assert set(keys) == {"s0", "s1", "e"}
    stored = json.loads(sealed)
    assert [token_slot(t) for t in stored["subject_keys"]] == ["s0", "s1"]
    assert token_slot(stored["official_key"]) == "e"
    assert token_slot(stored["envelope_sealed"]) == "e"

    # Alex erased: their slot and the shared one destroyed; Sam's entry is intact.
    opened = vault().open("event/1", sealed, {"s0": None, "s1": keys["s1"], "e": None})
    state = json.loads(opened.state)
    assert state["subject_keys"] == [None, SAM]
    assert state["official_key"] is None and state["envelope_sealed"] is None
    assert state["organisation"] == "DWP"
    assert opened.destroyed == {"s0", "e"} and not opened.missing
    assert opened.erased == 5  # Alex, the official, the record, the concern, the envelope
    assert SEALED_MEMBER not in state


def test_a_key_never_stored_is_missing_not_destroyed() -> None:
    sealed, _ = seal(access(ALEX))
    opened = vault().open("event/1", sealed, {})
    assert opened.missing == {"s0"} and not opened.destroyed
    assert json.loads(opened.state)["subject_keys"] == [None]


def test_the_views_need_not_decrypt_the_envelope() -> None:
    sealed, keys = seal(access(ALEX))
    opened = vault().open("event/1", sealed, keys, frozenset({"envelope_sealed"}), salts=False)
    state = json.loads(opened.state)
    assert state["envelope_sealed"] is None and state["subject_keys"] == [ALEX]
    assert opened.salts == {} and opened.erased == 0


def test_a_sealed_value_or_a_key_that_was_altered_does_not_open() -> None:
    sealed, keys = seal(access(ALEX))
    stored = json.loads(sealed)
    blob = bytearray(base64.b64decode(stored[SEALED_MEMBER]["s0"]))
    blob[-1] ^= 1
    stored[SEALED_MEMBER]["s0"] = base64.b64encode(bytes(blob)).decode()
    with pytest.raises(VaultError):
        vault().open("event/1", json.dumps(stored).encode(), keys)
    with pytest.raises(VaultError):
        vault().open("event/1", sealed, {"s0": os.urandom(32)})

    v = vault()
    _, (slot,) = v.seal("event/1", json.dumps(access(ALEX)).encode())
    with pytest.raises(VaultError):
        Vault(b"x" * 32, b"t" * 32).unwrap(slot.wrapped)
    wrapped = bytearray(slot.wrapped)
    wrapped[30] ^= 1
    with pytest.raises(VaultError):
        v.unwrap(bytes(wrapped))


def test_every_key_is_fresh_and_wrapped_with_a_fresh_nonce() -> None:
    v = vault()
    state = json.dumps(access(ALEX, SAM)).encode()
    _, first = v.seal("event/1", state)
    _, second = v.seal("event/1", state)
    wrapped = [k.wrapped for k in first + second]
    assert len({w[:24] for w in wrapped}) == len(wrapped)  # nonces
    assert len({v.unwrap(w) for w in wrapped}) == len(wrapped)  # keys


def test_integers_beyond_64_bits_and_unicode_survive_exactly() -> None:
    state = access(ALEX, count=2**70, record="Dossier n° 7 — Zoë")
    sealed, keys = seal(state)
    assert b"Dossier" not in sealed  # (a short string could occur in the ciphertext's base64)
    opened = json.loads(vault().open("event/1", sealed, keys).state)
    assert opened["count"] == 2**70 and opened["record"] == "Dossier n° 7 — Zoë"


def test_a_state_with_nothing_personal_is_stored_as_it_is() -> None:
    state = json.dumps({"organisation": "DWP", "subject_keys": []}).encode()
    assert vault().seal("event/1", state) == (state, [])


def test_an_erasures_tombstones_are_sealed_with_no_subject() -> None:
    tags = [["ab" * 16], ["cd" * 16, "ef" * 16]]
    sealed, keys = seal({"rule": "retention", "tombstones": tags})
    assert set(keys) == {"e"}
    assert all(tag.encode() not in sealed for tags_ in tags for tag in tags_)
    assert json.loads(vault().open("event/1", sealed, keys).state)["tombstones"] == tags


def test_text_is_what_the_log_commits_to() -> None:
    assert text("plain") == "plain"
    assert text({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
