"""Typed subject identifiers and the keyed pseudonyms the ledger stores instead.

Services name citizens by NHS number, National Insurance number, GOV.UK One Login
subject or a local reference. The ledger never stores those in clear: it stores
``SubjectKey`` = HMAC-SHA256(ledger pseudonym key, "scheme:normalised value").
"""

from __future__ import annotations

import hashlib
import operator
import re
from dataclasses import dataclass
from typing import NewType

SubjectKey = NewType("SubjectKey", str)

SCHEMES = {
    "nhs-number": "NHS number",
    "nino": "National Insurance number",
    "one-login": "GOV.UK One Login account",
    "local": "local reference",
}

# HMRC: two prefix letters (not D F I Q U V; second not O; not BG GB KN NK NT TN ZZ),
# six digits, suffix A-D.
_NINO = re.compile(r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_ONE_LOGIN = re.compile(r"^urn:fdc:gov\.uk:2022:[A-Za-z0-9_\-]{10,200}$")
_LOCAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}$")


class InvalidIdentifier(ValueError):
    """An identifier is not valid for its scheme."""


_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_ZERO = ord("0")


def nhs_number_is_valid(digits: str) -> bool:
    """Modulus 11 check digit of a 10-digit NHS number (ASCII digits only)."""
    if len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
        return False
    codes = digits.encode()
    total = sum(map(operator.mul, codes, _NHS_WEIGHTS)) - _ZERO * sum(_NHS_WEIGHTS)
    check = -total % 11  # 11 - total % 11, with 11 meaning 0
    return check != 10 and check == codes[9] - _ZERO


@dataclass(frozen=True)
class SubjectId:
    """A typed identifier of a citizen, normalised and validated."""

    scheme: str
    value: str

    @classmethod
    def parse(cls, scheme: str, value: str) -> SubjectId:
        if scheme not in SCHEMES:
            raise InvalidIdentifier("unknown identifier scheme")
        if scheme == "nhs-number":
            value = value.replace(" ", "").replace("-", "")
            if not nhs_number_is_valid(value):
                raise InvalidIdentifier("NHS number fails its check digit or is not 10 digits")
        elif scheme == "nino":
            value = value.replace(" ", "").upper()
            if not _NINO.fullmatch(value):
                raise InvalidIdentifier("National Insurance number has an invalid format")
        elif scheme == "one-login":
            if not _ONE_LOGIN.fullmatch(value):
                raise InvalidIdentifier("One Login subject must look like urn:fdc:gov.uk:2022:...")
        elif not _LOCAL.fullmatch(value):
            raise InvalidIdentifier("local reference must be 1-128 plain characters")
        return cls(scheme, value)

    @classmethod
    def from_text(cls, text: str) -> SubjectId:
        """Parse ``scheme:value`` (as used in URLs and on the command line)."""
        scheme, sep, value = text.partition(":")
        if not sep:
            raise InvalidIdentifier("expected scheme:value, e.g. nhs-number:9434765919")
        return cls.parse(scheme, value)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


class Pseudonymiser:
    """Turns identifiers into subject keys with the ledger's secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("pseudonym key must be at least 32 bytes")
        # HMAC-SHA256 (RFC 2104) keyed once: its inner and outer hashes after the padded
        # key, copied for each pseudonym (half the time of copying an ``hmac.HMAC``).
        block = key if len(key) <= 64 else hashlib.sha256(key).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def _hmac(self, text: str) -> str:
        inner = self._inner.copy()
        inner.update(text.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def subject_key(self, subject: SubjectId) -> SubjectKey:
        return SubjectKey(self._hmac(f"{subject.scheme}:{subject.value}"))

    def opaque(self, namespace: str, value: str) -> str:
        """A pseudonym for third-party identifiers, e.g. an official's staff id."""
        return self._hmac(f"{namespace}:{value}")
