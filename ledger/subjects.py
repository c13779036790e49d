"""Typed subject identifiers and the keyed pseudonyms the ledger stores instead.

Services name citizens by NHS number, National Insurance number, GOV.UK One Login
subject or a local reference. The ledger never stores those in clear: it stores
``SubjectKey`` = HMAC-SHA256(ledger pseudonym key, "scheme:canonical value").

Each scheme has a few accepted spellings and exactly one canonical form;
:meth:`SubjectId.parse` maps the one to the other or refuses. It is the only parser: the
intake (event subjects), the API's paths and decisions, and tokens' linked identifiers
all call it, because two spellings pseudonymised apart would split one citizen in two
(their timeline would miss accesses, decisions would miss their objections).

- ``nhs-number``: 10 digits, together or 3-3-4 with one space or hyphen between the
  groups; canonical: the 10 digits, which must pass the modulus 11 check.
- ``nino``: 2 letters, 6 digits and A-D, in either case, with at most one space between
  the groups (``AB 12 34 56 C``); canonical: upper case without spaces, with a prefix
  HMRC issues.
- ``one-login``: exactly ``urn:fdc:gov.uk:2022:`` and 10-200 of ``A-Z a-z 0-9 _ -``;
  canonical: as given.
- ``local``: ``ORG:ref``, a registered organisation code (upper case), a colon and 1-95
  of ``A-Z a-z 0-9 . _ / -``; canonical: as given (the reference keeps its case).

Only ASCII is accepted, matched against the whole value: no digits of other scripts,
full-width forms, homoglyphs, zero-width characters, tabs, newlines, or spaces beyond
the ones shown.
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

# An organisation's code as registered (the catalogue's organisation pattern is this too).
ORGANISATION_CODE = "[A-Z0-9][A-Z0-9-]{1,31}"
ONE_LOGIN_PREFIX = "urn:fdc:gov.uk:2022:"

# The accepted spellings of each scheme, one regular expression each. The published JSON
# Schemas carry them too (``ledger.catalogue.vocabulary``), so each must mean the same in
# Python's ``re`` and in ECMA-262: explicit ASCII classes only (Python's ``\d`` and
# ``\w`` match other scripts), none admitting a newline; anchoring is left to the user
# (``fullmatch`` here), because ``$`` differs between the two.
SPELLINGS: dict[str, str] = {
    "nhs-number": "[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}",
    "nino": "[A-Za-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d]",
    "one-login": re.escape(ONE_LOGIN_PREFIX) + "[A-Za-z0-9_-]{10,200}",
    "local": ORGANISATION_CODE + ":[A-Za-z0-9._/-]{1,95}",
}
_SPELLED = {scheme: re.compile(pattern).fullmatch for scheme, pattern in SPELLINGS.items()}
_NOT_SPELLED = {
    "nhs-number": "an NHS number is 10 digits, written together or as 3-3-4",
    "nino": "a National Insurance number is 2 letters, 6 digits and A, B, C or D",
    "one-login": f"a One Login subject is {ONE_LOGIN_PREFIX} and 10-200 letters or digits",
    "local": "a local reference is an organisation code, a colon and 1-95 plain characters",
}

# HMRC: prefix letters not D F I Q U V, the second not O either; not BG GB KN NK NT TN ZZ.
# Applied to the canonical form (upper case, no spaces), whose shape is already checked.
_NINO_PREFIX = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]").match


class InvalidIdentifier(ValueError):
    """An identifier is not valid for its scheme; the message never quotes it."""


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
    """A typed identifier of a citizen in its canonical form.

    Build one with :meth:`parse` or :meth:`from_text`; the constructor trusts its caller.
    """

    scheme: str
    value: str

    @classmethod
    def parse(cls, scheme: str, value: str) -> SubjectId:
        """The canonical form of ``value`` in ``scheme``; :class:`InvalidIdentifier` if it
        is not an accepted spelling of a valid identifier (see the module's table)."""
        spelled = _SPELLED.get(scheme)
        if spelled is None:
            raise InvalidIdentifier("unknown identifier scheme")
        if spelled(value) is None:
            raise InvalidIdentifier(_NOT_SPELLED[scheme])
        # The spelling is ASCII by now, so these cannot fold other characters into it.
        if scheme == "nhs-number":
            value = value.replace(" ", "").replace("-", "")
            if not nhs_number_is_valid(value):
                raise InvalidIdentifier("the NHS number fails its check digit")
        elif scheme == "nino":
            value = value.replace(" ", "").upper()
            if _NINO_PREFIX(value) is None:
                raise InvalidIdentifier("the National Insurance number has a prefix never issued")
        return cls(scheme, value)

    @classmethod
    def from_text(cls, text: str) -> SubjectId:
        """Parse ``scheme:value`` (as used in URLs, tokens and on the command line)."""
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
