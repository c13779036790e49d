"""The keys derived from the ledger secret, and sealing at rest."""

from __future__ import annotations

import nacl.exceptions
import nacl.secret
import pytest

from ledger.keyring import Keyring, _derive

SECRET = bytes(range(32))


def test_a_sealed_envelope_is_a_secretbox_message_that_opens_to_the_bytes() -> None:
    keyring = Keyring(SECRET)
    plain = b'{"id":"1","data":{"subjects":[{"scheme":"nhs-number","value":"9434765919"}]}}'
    sealed = keyring.seal(plain)
    assert plain not in sealed
    assert len(sealed) == len(plain) + 24 + 16  # nonce, then the box with its tag
    # Anything that speaks NaCl's secretbox opens it with the derived key.
    assert nacl.secret.SecretBox(_derive(SECRET, b"seal")).decrypt(sealed) == plain
    assert keyring.open(sealed) == plain
    assert keyring.seal(plain) != sealed  # a fresh nonce each time


def test_a_sealed_envelope_altered_or_opened_with_another_secret_is_refused() -> None:
    sealed = Keyring(SECRET).seal(b"envelope")
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(nacl.exceptions.CryptoError):
        Keyring(SECRET).open(altered)
    with pytest.raises(nacl.exceptions.CryptoError):
        Keyring(bytes(32)).open(sealed)
