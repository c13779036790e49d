"""Ed25519 signatures over canonical JSON: what a service adds to its event.

The signature covers the RFC 8785 canonical JSON of the event *without* the
``signature`` attribute; ``signingkey`` names the key, and is itself signed.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import nacl.signing

from ledger_emitter.jcs import canonical

SIGNATURE_ATTR = "signature"
KEY_ID_ATTR = "signingkey"


def signing_input(event: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the canonical event without its signature."""
    return canonical({k: v for k, v in event.items() if k != SIGNATURE_ATTR})


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id_for(public_key: bytes) -> str:
    """A stable key id derived from the public key itself, so it cannot be spoofed."""
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:32]


@dataclass(frozen=True)
class SigningKey:
    """A service's Ed25519 private key, with its public half and key id."""

    seed: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key)

    def sign(self, event: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of ``event`` carrying this key's id and signature."""
        unsigned = {k: v for k, v in event.items() if k != SIGNATURE_ATTR}
        unsigned[KEY_ID_ATTR] = self.key_id
        signature = nacl.signing.SigningKey(self.seed).sign(signing_input(unsigned)).signature
        return {**unsigned, SIGNATURE_ATTR: b64url(signature)}
