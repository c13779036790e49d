"""The signed event contract: RFC 8785 canonical JSON and Ed25519 over it."""

from __future__ import annotations

import json

import pytest

from ledger import signing
from ledger.catalogue.examples import published_test_key
from ledger.signing import SigningKey


def test_canonical_json_follows_rfc_8785() -> None:
    # RFC 8785 section 3.2.3's sorting example, and its number serialisation.
    value = json.loads(
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "1": "One", '
        '"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}'
    )
    assert (
        signing.canonical(value)
        == (
            '{"\\r":"Carriage Return","1":"One",'
            '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"\u20ac":"Euro Sign"}'
        ).encode()
    )


def test_a_signed_event_verifies_with_its_key_and_names_it() -> None:
    key = SigningKey.generate()
    event = key.sign({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {}})
    assert event["signingkey"] == key.key_id
    assert signing.verify(event, key.public_key)
    assert not signing.verify(event, SigningKey.generate().public_key)


def test_the_signature_covers_everything_but_itself() -> None:
    key = published_test_key()
    event = key.sign({"id": "1", "data": {"a": 1}})
    assert signing.signing_input(event) == signing.canonical(
        {"id": "1", "data": {"a": 1}, "signingkey": key.key_id}
    )
    assert not signing.verify({**event, "data": {"a": 2}}, key.public_key)
    assert not signing.verify({**event, "signingkey": "ed25519:" + "0" * 32}, key.public_key)


def test_an_unsigned_or_garbled_signature_never_verifies() -> None:
    key = published_test_key()
    event = key.sign({"id": "1"})
    assert not signing.verify({k: v for k, v in event.items() if k != "signature"}, key.public_key)
    assert not signing.verify({**event, "signature": "not base64 !"}, key.public_key)
    assert not signing.verify({**event, "signature": 42}, key.public_key)


def _received(event: dict[str, object]) -> tuple[dict[str, object], bytes]:
    """An event as intake receives it: its canonical bytes, parsed on the fast path."""
    text = signing.canonical(event)
    parsed = signing.parse_canonical(text)
    assert parsed is not signing.NOT_CANONICAL
    return parsed, text


def test_the_signed_bytes_cut_from_the_received_text_are_the_signing_input() -> None:
    key = published_test_key()
    for event in (
        key.sign({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {}}),
        key.sign({"id": "2", "data": {"a": [1, {"b": "c"}]}, "time": "2026-11-25T00:00:00Z"}),
        key.sign({"id": "3", "zzz": "after every attribute"}),
    ):
        parsed, text = _received(event)
        assert signing._signed_part(parsed, text) == signing.signing_input(parsed)
        assert signing.verify(parsed, key.public_key, canonical_text=text)
        altered = text.replace(b'"id":"', b'"id":"x')
        assert not signing.verify(parsed, key.public_key, canonical_text=altered)


def test_a_cut_that_could_be_ambiguous_is_not_made() -> None:
    key = published_test_key()
    event = key.sign({"id": "1", "data": {}})
    # A member of data with the very same name and value: the text occurs twice.
    twice = {**event, "data": {"a": 1, "signature": event["signature"], "z": 2}}
    parsed, text = _received(twice)
    assert signing._signed_part(parsed, text) is None
    assert not signing.verify(parsed, key.public_key, canonical_text=text)  # data changed
    # No member sorts before the signature: no comma before it to cut with.
    alone = key.sign({"type": "t"})
    parsed, text = _received(alone)
    assert signing._signed_part(parsed, text) is None
    assert signing.verify(parsed, key.public_key, canonical_text=text)  # serialised again


def test_a_signature_or_key_of_the_wrong_length_never_verifies() -> None:
    key = published_test_key()
    event = key.sign({"id": "1"})
    short = signing.b64url(signing.b64url_decode(event["signature"])[:63])
    assert not signing.verify({**event, "signature": short}, key.public_key)
    assert not signing.verify(event, key.public_key[:31])
    assert not signing.verify(event, key.public_key + b"\0")


def test_duplicate_member_names_are_not_json_the_ledger_accepts() -> None:
    with pytest.raises(signing.DuplicateMember):
        signing.parse_json(b'{"id": "1", "id": "2"}')
    with pytest.raises(ValueError, match="NaN"):
        signing.parse_json(b'{"n": NaN}')


def test_the_key_id_derives_from_the_public_key() -> None:
    key = published_test_key()
    assert key.key_id == signing.key_id_for(key.public_key)
    assert key.key_id.startswith("ed25519:") and len(key.key_id) == 8 + 32


def _reference_signature_bytes(text: str) -> bytes | None:
    """What a signature text means, the slow obvious way: decode, re-encode, compare."""
    try:
        sig = signing.b64url_decode(text)
    except ValueError:
        return None
    return sig if len(sig) == 64 and signing.b64url(sig) == text else None


def test_only_the_canonical_text_of_a_64_byte_signature_is_read() -> None:
    import random

    draw = random.Random(64)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n.é"
    texts = []
    for _ in range(3_000):
        text = signing.b64url(draw.randbytes(64))
        texts.append(text)
        at = draw.randrange(len(text))
        texts.append(text[:at] + draw.choice(alphabet) + text[at + 1 :])  # one changed
        texts.append(text[:at] + text[at + 1 :])  # one missing
        texts.append(text + draw.choice(alphabet))  # one more
        texts.append(text + "==")  # padded
    for text in texts:
        assert signing._signature_bytes(text) == _reference_signature_bytes(text), text
    assert sum(signing._signature_bytes(t) is not None for t in texts) > 3_000
