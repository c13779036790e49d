"""The ledger's own secret and the keys derived from it.

One 32-byte secret yields independent keys (BLAKE2b with a distinct personalisation
per purpose): the subject pseudonym key and the sealing key that encrypts received
envelopes at rest (they carry raw identifiers), and the Ed25519 key that signs the
verifiable log's tree heads (``LEDGER_LOG_SIGNING_SEED`` may supply that one on its
own, so it can be rotated or held apart from the secret). In development a secret is generated
once under the ledger home; in production it must be supplied.
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


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hashlib.blake2b(secret, digest_size=32, person=purpose.ljust(16, b"\0")).digest()


class Keyring:
    """Keys derived from the ledger secret."""

    def __init__(self, secret: bytes, log_signing_seed: bytes | None = None) -> None:
        if len(secret) != 32:
            raise SettingsError("the ledger secret must be 32 bytes (64 hex characters)")
        if log_signing_seed is not None and len(log_signing_seed) != 32:
            raise SettingsError("the log signing seed must be 32 bytes (64 hex characters)")
        self.pseudonymiser = Pseudonymiser(_derive(secret, b"pseudonym"))
        self._seal_key = _derive(secret, b"seal")
        self._box = nacl.secret.SecretBox(self._seal_key)
        self.log_signing_key = nacl.signing.SigningKey(
            log_signing_seed or _derive(secret, b"log-signing")
        )

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
        log_seed = bytes.fromhex(settings.log_signing_seed) if settings.log_signing_seed else None
        if settings.secret:
            return cls(bytes.fromhex(settings.secret), log_seed)
        if settings.env == "production":
            raise SettingsError("LEDGER_SECRET must be set in production")
        return cls(_dev_secret(settings.home), log_seed)


def _dev_secret(home: Path) -> bytes:
    path = home / "dev-secret.hex"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
