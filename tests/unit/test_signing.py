"""The ledger checks the signed event contract: what the SDK signs verifies, nothing else."""

from __future__ import annotations

import pytest
from ledger_emitter import SigningKey, b64url, b64url_decode, canonical, signing_input

from ledger import signing
from ledger.catalogue.examples import published_test_key


def test_a_signed_event_verifies_with_its_key_and_names_it() -> None:
    key = SigningKey.generate()
    event = key.sign({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {}})
    assert event["signingkey"] == key.key_id
    assert signing.verify(event, key.public_key)
    assert not signing.verify(event, SigningKey.generate().public_key)


def test_the_signature_covers_everything_but_itself() -> None:
    key = published_test_key()
    event = key.sign({"id": "1", "data": {"a": 1}})
    assert signing_input(event) == canonical(
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
    text = canonical(event)
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
        assert signing._signed_part(parsed, text) == signing_input(parsed)
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
    short = b64url(b64url_decode(event["signature"])[:63])
    assert not signing.verify({**event, "signature": short}, key.public_key)
    assert not signing.verify(event, key.public_key[:31])
    assert not signing.verify(event, key.public_key + b"\0")


def test_duplicate_member_names_are_not_json_the_ledger_accepts() -> None:
    with pytest.raises(signing.DuplicateMember):
        signing.parse_json(b'{"id": "1", "id": "2"}')
    with pytest.raises(ValueError, match="NaN"):
        signing.parse_json(b'{"n": NaN}')


def _reference_signature_bytes(text: str) -> bytes | None:
    """What a signature text means, the slow obvious way: decode, re-encode, compare."""
    try:
        sig = b64url_decode(text)
    except ValueError:
        return None
    return sig if len(sig) == 64 and b64url(sig) == text else None


def test_only_the_canonical_text_of_a_64_byte_signature_is_read() -> None:
    import random

    draw = random.Random(64)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n.é"
    texts = []
    for _ in range(3_000):
        text = b64url(draw.randbytes(64))
        texts.append(text)
        at = draw.randrange(len(text))
        texts.append(text[:at] + draw.choice(alphabet) + text[at + 1 :])  # one changed
        texts.append(text[:at] + text[at + 1 :])  # one missing
        texts.append(text + draw.choice(alphabet))  # one more
        texts.append(text + "==")  # padded
    for text in texts:
        assert signing._signature_bytes(text) == _reference_signature_bytes(text), text
    assert sum(signing._signature_bytes(t) is not None for t in texts) > 3_000
