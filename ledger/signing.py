"""Checking the signed event contract: strict parsing and Ed25519 verification.

A service signs the canonical JSON of its CloudEvent *without* the ``signature``
attribute, and names its key in the ``signingkey`` attribute; how is defined once, in
the emitter SDK (``ledger_emitter``). The ledger parses the exact bytes it received
(refusing duplicate member names, which would make the signed meaning ambiguous),
recomputes the canonical form and checks the signature.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from typing import Any

import nacl.bindings
import nacl.exceptions
import orjson
from ledger_emitter import KEY_ID_ATTR, SIGNATURE_ATTR, canonical, signing_input


class DuplicateMember(ValueError):
    """A JSON object names the same member twice."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateMember(f"member {key!r} appears twice")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Parse strict JSON: UTF-8, no duplicate members, no NaN or Infinity."""
    return json.loads(
        raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant
    )


_CANONICAL_CHECK = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


class _NotCanonical:
    def __repr__(self) -> str:
        return "NOT_CANONICAL"


NOT_CANONICAL: Any = _NotCanonical()


def parse_canonical(raw: bytes) -> Any:
    """The value of ``raw`` when ``raw`` is exactly its own RFC 8785 form; else
    ``NOT_CANONICAL`` (then :func:`parse_json` decides).

    Emitters send canonical bytes, so this is the common case, and it is ~4x cheaper
    than :func:`parse_json`, with the canonical form coming for free. Why a value
    returned here is what :func:`parse_json` returns, and ``raw`` is its RFC 8785 form:

    - orjson parses strict RFC 8259 JSON (UTF-8, no NaN or Infinity);
    - re-serialised with sorted keys it gives ``raw`` back, byte for byte: so no member
      was named twice (the duplicate would be missing) and ``raw`` is orjson's form;
    - ``raw`` is ASCII with no escapes, so member names sort the same by UTF-16 code
      units (RFC 8785) as by code points (orjson), and strings need no escaping rules;
    - no number has a fraction or an exponent, and ``OPT_STRICT_INTEGER`` refuses
      integers beyond 2^53: so the data is "plain", where orjson's form is RFC 8785's
      (:func:`ledger_emitter.canonical`).

    ``tests/unit/test_canonical_fast_path.py`` checks this against the reference.
    """
    if not raw.isascii() or b"\\" in raw:
        return NOT_CANONICAL
    # Outside strings (no escaped quotes: no backslash), only numbers, true, false, null
    # and punctuation remain; a fraction or an exponent shows as "." or "e"/"E".
    outside = b"".join(raw.split(b'"')[::2])
    if (
        b"." in outside
        or b"E" in outside
        or b"e" in outside.replace(b"true", b"").replace(b"false", b"")
    ):
        return NOT_CANONICAL
    try:
        value = orjson.loads(raw)
        if orjson.dumps(value, option=_CANONICAL_CHECK) != raw:
            return NOT_CANONICAL
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return NOT_CANONICAL
    return value


def verify(
    event: dict[str, Any], public_key: bytes, *, canonical_text: bytes | None = None
) -> bool:
    """True when ``event['signature']`` is a valid Ed25519 signature by ``public_key``.

    ``canonical_text``: the bytes ``event`` was parsed from, when :func:`parse_canonical`
    found them to be its own RFC 8785 form; the signed bytes are then cut out of them
    (:func:`_signed_part`) instead of serialised again.
    """
    signature = event.get(SIGNATURE_ATTR)
    if not isinstance(signature, str):
        return False
    try:
        sig = _signature_bytes(signature)
        if sig is None:
            return False
        message = None if canonical_text is None else _signed_part(event, canonical_text)
        if message is None:
            message = signing_input(event)
        nacl.bindings.crypto_sign_open(sig + message, _public_key(public_key))
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


# base64url to base64; "+", "/" and "=" are not base64url: they become a character
# that strict decoding refuses.
_FROM_URLSAFE = bytes.maketrans(b"-_+/=", b"+/!!!")


def _signature_bytes(text: str) -> bytes | None:
    """The 64 bytes of an Ed25519 signature in canonical unpadded base64url; else None.

    Base64 has spare bits in its last character: several texts decode to the same
    signature. Only the canonical text is accepted, so no byte of a signed event can
    change unnoticed. 64 bytes take 86 characters, the last carrying 2 bits and four
    zero bits: one of A, Q, g and w. With those checked, a strict decode of the rest
    accepts exactly the texts :func:`ledger_emitter.b64url` writes
    (``tests/unit/test_signing.py``).
    """
    if len(text) != 86 or text[-1] not in "AQgw":
        return None
    try:
        standard = text.encode("ascii").translate(_FROM_URLSAFE) + b"=="
        return binascii.a2b_base64(standard, strict_mode=True)
    except ValueError:  # binascii.Error, or a character beyond ASCII
        return None


def _public_key(public_key: bytes) -> bytes:
    if len(public_key) != nacl.bindings.crypto_sign_PUBLICKEYBYTES:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return public_key


def _signed_part(event: dict[str, Any], text: bytes) -> bytes | None:
    """:func:`signing_input` of ``event`` cut out of ``text``, its RFC 8785 form; None
    when the cut is not certain (then the input is serialised again).

    The canonical form lists the members in order, separated by commas, so without the
    signature it is the same text less ``,"signature":"..."``. That member is preceded
    by a comma when some member sorts before it (``id`` does), and it is the top level's
    when that text occurs only once (a member of ``data`` with the same name and value
    would make it twice). Strings in a canonical text from :func:`parse_canonical` are
    plain ASCII without escapes, so the value appears as it is.
    """
    if "id" not in event:
        return None
    return _cut_once(text, b',"signature":"' + event[SIGNATURE_ATTR].encode("ascii") + b'"')


def _cut_once(text: bytes, member: bytes) -> bytes | None:
    """``text`` less ``member``, which must occur in it exactly once; else None."""
    at = text.find(member)
    if at < 0 or text.find(member, at + 1) >= 0:
        return None
    return text[:at] + text[at + len(member) :]


def content_digest(event: dict[str, Any], canonical_text: bytes | None = None) -> bytes:
    """SHA-256 of what an event says: its RFC 8785 form without ``signature`` and
    ``signingkey``. Two submissions with the same (source, id) and the same digest are
    one event sent twice (even re-signed after a key rotation); with different digests,
    an id reused for other content.

    ``canonical_text``: as for :func:`verify`; the two members are cut out of it when
    the cut is certain, else the event is serialised again."""
    if canonical_text is not None and "id" in event and SIGNATURE_ATTR in event:
        key_id = event.get(KEY_ID_ATTR)
        signature = event[SIGNATURE_ATTR]
        if isinstance(key_id, str) and isinstance(signature, str):
            text = _cut_once(canonical_text, b',"signature":"' + signature.encode("ascii") + b'"')
            if text is not None:
                text = _cut_once(text, b',"signingkey":"' + key_id.encode("ascii") + b'"')
            if text is not None:
                return hashlib.sha256(text).digest()
    unsigned = {k: v for k, v in event.items() if k not in (SIGNATURE_ATTR, KEY_ID_ATTR)}
    return hashlib.sha256(canonical(unsigned)).digest()
