"""The keys derived from the ledger secret, where a development secret comes from, and
sealing at rest."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import nacl.exceptions
import nacl.secret
import pytest

from ledger.keyring import Keyring, NoLedgerHome, _derive, create_dev_secret
from ledger.settings import Settings, SettingsError

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


def test_reading_the_keys_where_there_is_no_home_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / ".ledger"

    with pytest.raises(NoLedgerHome, match=f"no ledger home at {home}: run `ledger init`"):
        Keyring.from_settings(Settings(home=home))

    assert not home.exists()


def test_the_dev_secret_is_made_once_private_and_then_only_read(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / ".ledger")

    create_dev_secret(settings)
    first = (settings.home / "dev-secret.hex").read_text()
    create_dev_secret(settings)  # a second `ledger init` keeps it

    assert (settings.home / "dev-secret.hex").read_text() == first
    sealed = Keyring(bytes.fromhex(first)).seal(b"envelope")
    assert Keyring.from_settings(settings).open(sealed) == b"envelope"  # its keys
    assert stat.S_IMODE((settings.home / "dev-secret.hex").stat().st_mode) == 0o600


def test_production_refuses_to_make_or_use_a_dev_secret(tmp_path: Path) -> None:
    development = Settings(home=tmp_path)
    create_dev_secret(development)
    production = dataclasses.replace(development, env="production")

    with pytest.raises(SettingsError, match="LEDGER_SECRET must be set in production"):
        create_dev_secret(production)
    with pytest.raises(SettingsError, match="LEDGER_SECRET must be set in production"):
        Keyring.from_settings(production)


def test_the_fingerprint_names_the_secret_without_being_any_of_its_keys() -> None:
    keyring = Keyring(SECRET)

    assert keyring.secret_fingerprint == _derive(SECRET, b"fingerprint")
    assert keyring.secret_fingerprint != Keyring(bytes(32)).secret_fingerprint
    assert keyring.secret_fingerprint not in (
        SECRET,
        _derive(SECRET, b"seal"),
        _derive(SECRET, b"pseudonym"),
        bytes(keyring.log_signing_key),
    )
