"""What the verifiable log shows of an event: its disclosable form. Pure.

A stored event holds personal data: subject pseudonyms (the same for one person in every
organisation's events, so they link that person across organisations), an official's
pseudonym, and the envelope the service signed (sealed, but it carries raw identifiers).
The log never shows those. Its leaf commits to the **disclosable form**: the event with
every personal field replaced by a salted commitment, ``"commit:" + hex(SHA-256(salt ||
value))``, where the salt is ``HMAC-SHA256(commitment key, event identity || JSON
pointer)[:16]`` and the commitment key is derived from the ledger secret. So:

- a leaf, a proof, an export or the disclosable form itself reveals no personal data,
  and no value that links two events of one person (every commitment has its own salt);
- anyone given the disclosable form checks it against the leaf (SHA-256 of its bytes is
  in the leaf input), with the log's public key only;
- the ledger can open a commitment for the one person it stands for (the salt and the
  value), so a citizen can check that an event names them, and no one else can;
- a personal field whose value is later destroyed (per-subject erasure) leaves its
  commitment, and the leaf, unchanged.

The personal fields are named in :data:`PERSONAL`, wherever they occur in the event.
The disclosable form is the result as JSON with members sorted by name, no whitespace,
UTF-8, numbers exactly as stored; a verifier hashes the bytes it is given, and never
needs to serialise anything itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import orjson

# Members that hold personal data, at any depth of a stored event: subjects' and
# officials' (and DSAR officers') pseudonyms, an organisation's written answer to a
# citizen's query about their record, and the envelope as received (it carries raw
# identifiers).
PERSONAL = frozenset(
    {"subject_key", "subject_keys", "official_key", "officer_key", "explanation", "envelope_sealed"}
)
COMMITMENT = "commit:"
# Events stored since per-subject keys (``ledger.vault``) hold every personal value as a
# token that carries its commitment; these members are personal there too (free text,
# and an erasure's tombstones: the tags its "details removed" entries are kept under).
SEALED = PERSONAL | {"grounds", "concern", "reason", "record", "tombstones"}
TOKEN = "enc:v1:"  # noqa: S105 (a prefix, not a secret)
# Where a state stored since per-subject keys holds its personal values' ciphertext.
SEALED_MEMBER = "_sealed_"


@dataclass(frozen=True)
class Opening:
    """What shows that the commitment at ``pointer`` stands for ``value``."""

    pointer: str
    salt: bytes
    value: str

    def commitment(self) -> str:
        return commit(self.salt, self.value)

    def to_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "salt": self.salt.hex(), "value": self.value}


class _Inexact(Exception):
    """A number orjson may not have read exactly."""


def commit(salt: bytes, value: str) -> str:
    return COMMITMENT + hashlib.sha256(salt + value.encode("utf-8")).hexdigest()


class Discloser:
    """Turns stored events into their disclosable form, and opens commitments."""

    def __init__(self, commitment_key: bytes) -> None:
        self._key = commitment_key

    def _salt(self, identity: str, pointer: str) -> bytes:
        return hmac.digest(self._key, f"{identity}{pointer}".encode(), "sha256")[:16]

    def disclosable(self, identity: str, state: bytes) -> bytes:
        """The disclosable form of a stored event state (JSON bytes); ``identity`` names
        the event (its aggregate id and version), so no two events share a salt."""
        try:
            replaced = self._replace(identity, orjson.loads(state), "")
            return orjson.dumps(replaced, option=orjson.OPT_SORT_KEYS)
        except _Inexact:
            # orjson reads an integer beyond 64 bits as a float: take the exact path.
            replaced = self._replace(identity, json.loads(state), "", exact=True)
            return json.dumps(
                replaced, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()

    def disclosed(self, identity: str, state: bytes) -> tuple[bytes, list[tuple[str, str]], Any]:
        """:meth:`disclosable` and :func:`personal_values` of one stored state, read
        once; also the state as read (None where a number took the exact path)."""
        try:
            value = orjson.loads(state)
            content = orjson.dumps(self._replace(identity, value, ""), option=orjson.OPT_SORT_KEYS)
        except (_Inexact, orjson.JSONDecodeError):
            return self.disclosable(identity, state), personal_values(state), None
        try:
            return content, _personal(value, "", exact=False), value
        except _Inexact:  # a personal number orjson read inexactly (it is committed as read)
            return content, personal_values(state), None

    def openings(self, identity: str, state: bytes, values: set[str]) -> list[Opening]:
        """The openings of the commitments in the event that stand for one of
        ``values`` (a citizen's own pseudonyms)."""
        return [self.opening(identity, p, v) for p, v in personal_values(state) if v in values]

    def opening(self, identity: str, pointer: str, value: str) -> Opening:
        """The opening of the commitment at ``pointer`` of event ``identity`` to
        ``value`` (the caller has checked that ``value`` is what it stands for)."""
        return Opening(pointer, self._salt(identity, pointer), value)

    def _replace(self, identity: str, value: Any, pointer: str, exact: bool = False) -> Any:
        if isinstance(value, dict):
            replaced = {}
            for name, item in value.items():
                if name == SEALED_MEMBER and not pointer:
                    continue  # the values' ciphertext: the state's digest covers it
                if name in SEALED and _tokens(item):
                    item = _token_commitments(item)
                elif name in PERSONAL:
                    item = self._committed(identity, item, f"{pointer}/{_escape(name)}")
                elif isinstance(item, (dict, list)):
                    item = self._replace(identity, item, f"{pointer}/{_escape(name)}", exact)
                elif isinstance(item, float) and not exact:
                    raise _Inexact
                replaced[name] = item
            return replaced
        if isinstance(value, list):
            return [
                self._replace(identity, item, f"{pointer}/{i}", exact)
                for i, item in enumerate(value)
            ]
        if isinstance(value, float) and not exact:
            raise _Inexact
        return value

    def _committed(self, identity: str, value: Any, pointer: str) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [
                self._committed(identity, item, f"{pointer}/{i}") for i, item in enumerate(value)
            ]
        return commit(self._salt(identity, pointer), _text(value))


def _tokens(value: Any) -> bool:
    """Whether a member holds vault tokens (a token, or a list of tokens and nulls)."""
    if isinstance(value, str):
        return value.startswith(TOKEN)
    if isinstance(value, list) and value:
        return all(v is None or (isinstance(v, str) and v.startswith(TOKEN)) for v in value)
    return False


def _token_commitments(value: Any) -> Any:
    """The commitments vault tokens carry (``enc:v1:<slot>:<commitment>``)."""
    if isinstance(value, list):
        return [None if v is None else _token_commitments(v) for v in value]
    return COMMITMENT + value.split(":", 4)[3]


def personal_values(state: bytes, *names: str) -> list[tuple[str, str]]:
    """(pointer, text) of every personal value in a stored state, or only of the fields
    ``names`` (e.g. ``subject_key`` for the subjects, whatever its plural)."""
    try:
        found = _personal(orjson.loads(state), "", exact=False)
    except (_Inexact, orjson.JSONDecodeError):
        # orjson reads an integer beyond 64 bits as a float (and refuses NaN): a
        # personal value of that kind takes the exact path.
        found = _personal(json.loads(state), "")
    if not names:
        return found
    return [(p, v) for p, v in found if any(f"/{n}" in p for n in names)]


def _personal(
    value: Any, pointer: str, inside: bool = False, exact: bool = True
) -> list[tuple[str, str]]:
    """(pointer, text) of every personal value in ``value``."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for name, item in value.items():
            within = inside or name in PERSONAL
            if within or isinstance(item, (dict, list)):  # a plain value outside: nothing
                found += _personal(item, f"{pointer}/{_escape(name)}", within, exact)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if inside or isinstance(item, (dict, list)):
                found += _personal(item, f"{pointer}/{i}", inside, exact)
    elif inside and value is not None:
        if isinstance(value, float) and not exact:
            raise _Inexact
        found.append((pointer, _text(value)))
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
