"""Signed tree heads in the C2SP signed-note format: interoperable key ids (checked
against the Go sumdb/note reference vector), round trips, and refusals."""

from __future__ import annotations

import base64

import nacl.signing
import pytest

from ledger.transparency.checkpoint import (
    BadTreeHead,
    LogKey,
    LogSigner,
    SignedTreeHead,
    parse_checkpoint,
)

# golang.org/x/mod/sumdb/note, note_test.go: a verifier key and a note it signed.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)

SIGNER = LogSigner("ledger.example/log", nacl.signing.SigningKey(bytes(range(32))))
ROOT = bytes.fromhex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e")


def test_key_ids_and_signatures_match_the_go_reference_implementation() -> None:
    key = LogKey.parse(GO_VKEY)
    raw = base64.b64decode(GO_SIG)

    assert key.name == "PeterNeumann" and key.key_id.hex() == "c74f20a3"
    assert raw[:4] == key.key_id
    nacl.signing.VerifyKey(key.public_key).verify(GO_TEXT.encode(), raw[4:])
    assert key.verifier_key == GO_VKEY


def test_a_checkpoint_is_origin_size_root_timestamp_then_the_signature_line() -> None:
    signed = SIGNER.sign(20852163, ROOT, 1_700_000_000_123)

    text = signed.checkpoint(SIGNER.key)

    body, _, signature = text.partition("\n\n")
    assert body.split("\n") == [
        "ledger.example/log",
        "20852163",
        base64.b64encode(ROOT).decode(),
        "timestamp 1700000000123",
    ]
    assert signature.startswith("\u2014 ledger.example/log ") and signature.endswith("=\n")
    assert base64.b64decode(signature.split(" ")[2])[:4] == SIGNER.key.key_id
    assert parse_checkpoint(text, SIGNER.key) == signed


def test_the_signature_binds_the_timestamp_as_well_as_size_and_root() -> None:
    text = SIGNER.sign(5, ROOT, 1_700_000_000_000).checkpoint(SIGNER.key)

    with pytest.raises(BadTreeHead, match="not valid"):
        parse_checkpoint(
            text.replace("timestamp 1700000000000", "timestamp 1700000000001"), SIGNER.key
        )
    with pytest.raises(BadTreeHead, match="not valid"):
        parse_checkpoint(text.replace("\n5\n", "\n6\n"), SIGNER.key)


def test_a_checkpoint_without_our_signature_is_refused() -> None:
    other = LogSigner("ledger.example/log", nacl.signing.SigningKey(bytes(32)))
    text = other.sign(5, ROOT, 1).checkpoint(other.key)

    with pytest.raises(BadTreeHead, match="no signature by"):
        parse_checkpoint(text, SIGNER.key)


def test_the_json_form_round_trips_and_verifies() -> None:
    signed = SIGNER.sign(7, ROOT, 42)

    again = SignedTreeHead.from_json(signed.to_json(SIGNER.key))

    assert again == signed
    SIGNER.key.verify(again.head, again.signature)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong type
        "PeterNeumann",
        "",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(BadTreeHead):
        LogKey.parse(vkey)


def test_an_origin_that_cannot_be_a_key_name_is_refused() -> None:
    with pytest.raises(ValueError, match="origin"):
        LogSigner("has space", nacl.signing.SigningKey(bytes(32)))
