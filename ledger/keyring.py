"""The ledger's own secret and the keys derived from it.

One 32-byte secret yields independent keys (BLAKE2b with a distinct personalisation
per purpose): the subject pseudonym key and the sealing key that encrypts received
envelopes at rest (they carry raw identifiers), and the Ed25519 key that signs the
verifiable log's tree heads (``LEDGER_LOG_SIGNING_SEED`` may supply that one on its
own, so it can be rotated or held apart from the secret). A fingerprint of the secret
(another derivation, so it reveals nothing of the keys) lets a database record which
secret it belongs to.

In production the secret must be supplied. In development ``ledger init`` or ``ledger
run`` generates one in the ledger home (:func:`create_dev_secret`); every other command
only reads it, so a command run from the wrong folder stops instead of making a new one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import nacl.bindings
import nacl.secret
import nacl.signing
import nacl.utils

from ledger.settings import Settings, SettingsError
from ledger.subjects import Pseudonymiser
from ledger.vault import Vault


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hashlib.blake2b(secret, digest_size=32, person=purpose.ljust(16, b"\0")).digest()


class Keyring:
    """Keys derived from the ledger secret."""

    def __init__(self, secret: bytes, log_signing_seed: bytes | None = None) -> None:
        if len(secret) != 32:
            raise SettingsError("the ledger secret must be 32 bytes (64 hex characters)")
        if log_signing_seed is not None and len(log_signing_seed) != 32:
            raise SettingsError("the log signing seed must be 32 bytes (64 hex characters)")
        self._secret = secret
        self.secret_fingerprint = _derive(secret, b"fingerprint")
        self.pseudonymiser = Pseudonymiser(_derive(secret, b"pseudonym"))
        self._seal_key = _derive(secret, b"seal")
        # Salts of the commitments that stand for personal fields in what the verifiable
        # log publishes (ledger.transparency.disclosure).
        self.commitment_key = _derive(secret, b"commitment")
        # Per-subject data keys (ledger.vault): the key-encryption key that wraps them,
        # and the key of the subjects' tags that find a person's keys for an erasure.
        self.key_encryption_key = _derive(secret, b"data-key-wrap")
        self.subject_tag_key = _derive(secret, b"subject-tag")
        self._box = nacl.secret.SecretBox(self._seal_key)
        self.log_signing_key = nacl.signing.SigningKey(
            log_signing_seed or _derive(secret, b"log-signing")
        )

    def vault(self) -> Vault:
        """What seals and opens the personal values of stored events."""
        return Vault(self.key_encryption_key, self.subject_tag_key)

    def derive(self, purpose: bytes) -> bytes:
        """A 32-byte key of its own for ``purpose`` (e.g. the development
        administrators' key), independent of every other key derived here."""
        return _derive(self._secret, purpose)

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt and authenticate bytes for storage at rest: a random nonce, then the
        XSalsa20-Poly1305 box (what ``SecretBox.encrypt`` returns, without building its
        ``EncryptedMessage``: a fifth of the time, on every event received)."""
        nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
        return nonce + nacl.bindings.crypto_secretbox_easy(plaintext, nonce, self._seal_key)

    def open(self, sealed: bytes) -> bytes:
        """Decrypt sealed bytes; raises if they were altered."""
        return bytes(self._box.decrypt(sealed))

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The keys of ``LEDGER_SECRET``, or of the development secret in the home.

        Never creates a file: raises :class:`NoLedgerHome` when there is no secret to read.
        """
        log_seed = bytes.fromhex(settings.log_signing_seed) if settings.log_signing_seed else None
        if settings.secret:
            return cls(bytes.fromhex(settings.secret), log_seed)
        _refuse_in_production(settings)
        try:
            text = _dev_secret_path(settings.home).read_text()
        except FileNotFoundError:
            raise NoLedgerHome(settings.home) from None
        return cls(bytes.fromhex(text.strip()), log_seed)


class NoLedgerHome(SettingsError):
    """No ``LEDGER_SECRET`` is set and the ledger home holds no development secret."""

    def __init__(self, home: Path) -> None:
        missing = "no ledger home" if not home.exists() else "no development secret in the home"
        super().__init__(
            f"{missing} at {home}: run `ledger init` (or `ledger run`) there first, "
            "or set LEDGER_HOME / LEDGER_SECRET"
        )


def create_dev_secret(settings: Settings) -> None:
    """Generate the development secret in the home, unless there is one or
    ``LEDGER_SECRET`` is set (what ``ledger init`` and ``ledger run`` do first)."""
    if settings.secret:
        return
    _refuse_in_production(settings)
    path = _dev_secret_path(settings.home)
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by an earlier run, or by another process just now
        return
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))


def _refuse_in_production(settings: Settings) -> None:
    if settings.env == "production":
        raise SettingsError("LEDGER_SECRET must be set in production")


def _dev_secret_path(home: Path) -> Path:
    return home / "dev-secret.hex"
