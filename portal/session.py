"""Portal sessions: a sealed cookie (encrypted and authenticated with a key derived from
the ledger secret), so it cannot be read or altered by its holder, and ends after a
stretch without a page visited.

What a session holds: ``csrf`` (the token every form must send back), and once signed
in ``subject`` (the citizen's linked identifier, ``scheme:value``) and ``name``; during
a One Login sign-in, ``pending`` (state, nonce, PKCE verifier).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from typing import Any

import nacl.exceptions
import nacl.secret
import orjson

SEEN = "seen"  # when a page was last visited (Unix seconds)
CSRF = "csrf"


class SessionSealer:
    """Seals a session into a cookie value and opens one again."""

    def __init__(self, key: bytes, lifetime_seconds: int) -> None:
        self._box = nacl.secret.SecretBox(key)
        self.lifetime = lifetime_seconds

    def seal(self, session: dict[str, Any], now: float | None = None) -> str:
        body = orjson.dumps({**session, SEEN: int(now if now is not None else time.time())})
        return base64.urlsafe_b64encode(bytes(self._box.encrypt(body))).decode().rstrip("=")

    def open(self, value: str | None, now: float | None = None) -> tuple[dict[str, Any], bool]:
        """The session in ``value`` and False; or an empty session, and True if ``value``
        was a signed-in session that has ended (so the page can say so)."""
        if not value:
            return {}, False
        try:
            raw = self._box.decrypt(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            session = orjson.loads(raw)
        except (ValueError, binascii.Error, nacl.exceptions.CryptoError):
            return {}, False  # not one of ours: start afresh
        if not isinstance(session, dict) or not isinstance(session.get(SEEN), int):
            return {}, False
        seen = session.pop(SEEN)
        if (now if now is not None else time.time()) - seen > self.lifetime:
            return {}, "subject" in session
        return session, False


def csrf_token(session: dict[str, Any]) -> str:
    """The session's form token, made on first use."""
    token = session.get(CSRF)
    if not isinstance(token, str):
        token = session[CSRF] = secrets.token_urlsafe(32)
    return token


def csrf_matches(session: dict[str, Any], sent: str | None) -> bool:
    expected = session.get(CSRF)
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )
