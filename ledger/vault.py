"""Per-subject data keys: every personal field of a stored event is encrypted, so that
destroying a key erases it without changing a byte the verifiable log committed to. Pure.

What is personal (:data:`PERSONAL`, by member name at any depth of an event): subjects'
pseudonyms (``subject_key``, ``subject_keys``), officials' and DSAR officers'
pseudonyms, the envelope as received (``envelope_sealed``: it carries raw identifiers
and free text), and the free text an event carries about a person: an organisation's
``explanation`` to a citizen, a citizen's ``concern``, an objection's ``grounds``, an
officer's ``reason``, and the ``record`` an access names ("claim 1234 of ...").

How they are stored. Each personal value is replaced, in the stored state, by a token

    enc:v1:<slot>:<commitment>

where the slot says which data key encrypts it, and the commitment is the one the
verifiable log publishes in the event's disclosable form
(``ledger.transparency.disclosure``): ``SHA-256(salt || text)``, its salt a keyed
BLAKE2b of the event's identity and the field's JSON pointer under the **slot key**
itself. The values themselves are in one ciphertext per slot, in the state's top-level
member ``_sealed_`` (``{slot: base64(nonce || XSalsa20-Poly1305(slot key, values))}``,
the values framed by pointer; the envelope as its bytes, not base64 again), so the
leaf commits to the ciphertext (the stored state's digest), and an event costs one
encryption per slot, however many personal values it holds. So:

- the leaf (over the disclosable form and the stored bytes) never changes: destroying a
  key changes a row of ``ledger_data_keys``, not the event;
- once a key is gone, its values can be neither read nor opened, nor guessed from their
  commitments (the salt went with the key);
- the disclosable form is read off the stored tokens, with no key.

Which slot. An event about one subject (one distinct pseudonym) has one slot, ``s0``:
all its personal fields are that person's, and go together. An event about several
subjects (a bulk share) has a slot per subject, ``s<i>`` for ``subject_keys[i]``, and
``e`` for the fields they share (the envelope, the official): erasing one subject
destroys their slot and ``e`` (the envelope names them), and the others keep their
entry. An event with no subject (a SAR's later steps, administration) has ``e`` only.

Keys. Each slot key is 32 random bytes, wrapped (XSalsa20-Poly1305) under the ledger's
key-encryption key and stored beside the event (``ledger_data_keys``, never in the log);
a subject slot also stores the subject's **tag**, a keyed BLAKE2b of their pseudonym
under a key of its own, so an erasure on request finds their slots without decrypting
anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.secret
import nacl.utils
import orjson

from ledger.transparency.disclosure import SEALED as PERSONAL
from ledger.transparency.disclosure import SEALED_MEMBER, TOKEN

SHARED = "e"
# Values stored as their bytes (base64 text in the event): the envelope as received.
_BYTES = frozenset({"envelope_sealed"})
KEY_BYTES = 32
_NONCE = nacl.secret.SecretBox.NONCE_SIZE
_NONCES = (bytes(_NONCE), (1).to_bytes(_NONCE, "big"))
_LARGE = "+"  # the member of a slot's envelope ciphertext: "<slot>+"


class VaultError(ValueError):
    """A token or a wrapped key that is not what the vault wrote."""


@dataclass(frozen=True, slots=True)
class SlotKey:
    """One data key of one event: its slot, the key wrapped under the key-encryption
    key, and the tag of the subject it belongs to (None for ``e``)."""

    slot: str
    wrapped: bytes
    subject_tag: bytes | None


@dataclass
class Opened:
    """A stored state read with the keys still held: the state with every token replaced
    by its value (null where the key is gone), each personal value held with the salt
    of its commitment, and how many values were erased."""

    state: bytes
    values: list[tuple[str, str]] = field(default_factory=list)  # (pointer, text)
    salts: dict[str, bytes] = field(default_factory=dict)  # pointer -> salt
    erased: int = 0
    sealed: bool = False  # whether the state held tokens at all
    destroyed: set[str] = field(default_factory=set)  # slots whose key is gone
    missing: set[str] = field(default_factory=set)  # slots that never had a key stored
    fault: str | None = None  # a key or value that does not open: altered


def is_sealed(state: bytes) -> bool:
    """Whether a stored state holds tokens (events stored before the vault do not)."""
    return b'"' + TOKEN.encode() in state


def is_token(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN)


def token_slot(token: str) -> str:
    return token.split(":", 3)[2]


def text(value: Any) -> str:
    """What a commitment is taken of: a string as it is, anything else as sorted JSON
    (as ``ledger.transparency.disclosure`` commits it)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _escape(name: str) -> str:
    if "~" in name or "/" in name:
        return name.replace("~", "~0").replace("/", "~1")
    return name


class _Float(Exception):
    """A float in a document orjson read: it may have been an integer beyond 64 bits."""


def _child(pointer: str, name: str | int) -> str:
    return f"{pointer}/{_escape(name) if type(name) is str else name}"


def _loads(state: bytes, exact: bool = False) -> Any:
    """The state parsed: by orjson, or with ``exact`` by the standard library (which
    reads every integer exactly; orjson reads one beyond 64 bits as a float)."""
    if exact:
        return json.loads(state)
    try:
        return orjson.loads(state)
    except orjson.JSONDecodeError:
        raise _Float from None  # NaN and the like: the standard path reads them


def _dumps(value: Any, exact: bool) -> bytes:
    if exact:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return orjson.dumps(value)


class Vault:
    """Seals personal fields under fresh data keys, and opens them with the keys held."""

    def __init__(self, key_encryption_key: bytes, tag_key: bytes) -> None:
        if len(key_encryption_key) != KEY_BYTES or len(tag_key) != KEY_BYTES:
            raise ValueError("the vault's keys are 32 bytes")
        self._kek = key_encryption_key
        self._tag_key = tag_key

    # Keys.

    def tag(self, pseudonym: str) -> bytes:
        """The tag of a subject's pseudonym in ``ledger_data_keys``: keyed BLAKE2b (a
        third of the cost of OpenSSL 3's one-shot HMAC, and as much a PRF)."""
        return hashlib.blake2b(pseudonym.encode(), key=self._tag_key, digest_size=16).digest()

    def wrap(self, key: bytes, nonce: bytes | None = None) -> bytes:
        """A data key under the key-encryption key, with a random nonce (that key is
        long-lived): fresh unless the caller drew it (with the key, in one call)."""
        nonce = nacl.utils.random(_NONCE) if nonce is None else nonce
        return nonce + nacl.bindings.crypto_secretbox_easy(key, nonce, self._kek)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return bytes(
                nacl.bindings.crypto_secretbox_open_easy(
                    wrapped[_NONCE:], wrapped[:_NONCE], self._kek
                )
            )
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise VaultError(f"a data key does not unwrap under this ledger's key: {exc}") from None

    # Sealing.

    def seal(self, identity: str, state: bytes) -> tuple[bytes, list[SlotKey]]:
        """The state with its personal values replaced by tokens, and the slot keys
        (wrapped) that open them; the state unchanged, and no key, when it holds no
        personal value. ``identity`` names the event (``<originator id>/<version>``)."""
        try:
            value, exact = _loads(state), False
            found: list[tuple[str, Any, Any]] = []
            _find(value, "", found, exact)
        except _Float:
            value, exact = _loads(state, exact=True), True
            found = []
            _find(value, "", found, exact)
        if not found:
            return state, []
        subjects = _subjects(value)  # pointer -> (index, pseudonym)
        one = len({pseudonym for _, pseudonym in subjects.values()}) == 1
        keys: dict[str, bytes] = {}
        nonces: dict[str, bytes] = {}
        tags: dict[str, bytes | None] = {}
        values: dict[str, list[tuple[str, Any]]] = {}
        for pointer, container, key in found:
            if one:
                slot = "s0"
            elif pointer in subjects:
                slot = f"s{subjects[pointer][0]}"
            else:
                slot = SHARED
            if slot not in keys:
                drawn = os.urandom(KEY_BYTES + _NONCE)  # the key, and its wrapping's nonce
                keys[slot], nonces[slot] = drawn[:KEY_BYTES], drawn[KEY_BYTES:]
                tags[slot] = None
                values[slot] = []
            if pointer in subjects:
                tags[slot] = self.tag(subjects[pointer][1])
            item = container[key]
            salt = salt_of(keys[slot], identity, pointer)
            commitment = hashlib.sha256(salt + text(item).encode()).hexdigest()
            container[key] = f"{TOKEN}{slot}:{commitment}"
            values[slot].append((pointer, item))
        # The envelope apart (nonce 1), so a reader that never reads it (the views) does
        # not decrypt it; the slot's other values together (nonce 0).
        blobs: dict[str, str] = {}
        for slot, held in values.items():
            small = [(p, v) for p, v in held if p.rsplit("/", 1)[-1] not in _BYTES]
            large = [(p, v) for p, v in held if p.rsplit("/", 1)[-1] in _BYTES]
            if small:
                blobs[slot] = _box(keys[slot], small, _NONCES[0])
            if large:
                blobs[slot + _LARGE] = _box(keys[slot], large, _NONCES[1])
        value[SEALED_MEMBER] = blobs
        sealed = _dumps(value, exact)
        return sealed, [SlotKey(s, self.wrap(k, nonces[s]), tags[s]) for s, k in keys.items()]

    # Opening.

    def keys_of(self, wrapped: Mapping[str, bytes | None]) -> dict[str, bytes | None]:
        """Slot -> data key (None where destroyed), from slot -> wrapped key."""
        return {slot: None if w is None else self.unwrap(w) for slot, w in wrapped.items()}

    def open(
        self,
        identity: str,
        state: bytes,
        keys: Mapping[str, bytes | None],
        skip: frozenset[str] = frozenset(),
        salts: bool = True,
    ) -> Opened:
        """The state with its tokens replaced by their values, with ``keys`` (slot ->
        data key, None where destroyed; a slot absent never had a key stored). Members
        named in ``skip`` are not opened (null): a reader that never uses them (the
        views never read the envelope) does not pay to decrypt them; nor, without
        ``salts``, to derive the salts of their commitments (only openings need them)."""
        if not is_sealed(state):
            return Opened(state)
        try:
            value, exact = _loads(state), False
        except _Float:
            value, exact = _loads(state, exact=True), True
        opened = Opened(state, sealed=True)
        blobs = value.pop(SEALED_MEMBER, None) if type(value) is dict else None
        plains: dict[str, dict[str, Any] | None] = {}
        large = not (_BYTES <= skip)
        for slot, key in keys.items():
            if key is None or type(blobs) is not dict:
                continue
            found: dict[str, Any] = {}
            if isinstance(blobs.get(slot), str):
                found.update(_unbox(key, blobs[slot], _NONCES[0]))
            if large and isinstance(blobs.get(slot + _LARGE), str):
                found.update(_unbox(key, blobs[slot + _LARGE], _NONCES[1]))
            plains[slot] = found
        _open(value, "", identity if salts else None, keys, plains, opened, skip)
        opened.state = _dumps(value, exact)
        return opened


def salt_of(key: bytes, identity: str, pointer: str) -> bytes:
    """The salt of the commitment at ``pointer`` of event ``identity``: keyed BLAKE2b
    under its slot key, so it is gone with the key."""
    return hashlib.blake2b(f"{identity}{pointer}".encode(), key=key, digest_size=16).digest()


def _box(key: bytes, values: list[tuple[str, Any]], nonce: bytes) -> str:
    """The slot's values, framed (pointer, kind, bytes) and sealed under its key (a
    fresh key, used twice at most, with nonces 0 and 1)."""
    parts: list[bytes] = []
    for pointer, value in values:
        name = pointer.rsplit("/", 1)[-1]
        payload, kind = None, b"j"
        if name in _BYTES and isinstance(value, str):
            try:  # the ledger's own base64 (of the sealed envelope): its bytes round-trip
                payload, kind = base64.b64decode(value, validate=True), b"b"
            except ValueError:
                pass
        if payload is None:
            payload = orjson.dumps(value)
        encoded = pointer.encode()
        parts += [
            struct.pack(">H", len(encoded)),
            encoded,
            kind,
            struct.pack(">I", len(payload)),
            payload,
        ]
    box = nacl.bindings.crypto_secretbox_easy(b"".join(parts), nonce, key)
    return base64.b64encode(box).decode()


def _unbox(key: bytes, blob: str, nonce: bytes) -> dict[str, Any]:
    """Pointer -> value of a slot's ciphertext."""
    try:
        plain = nacl.bindings.crypto_secretbox_open_easy(
            base64.b64decode(blob, validate=True), nonce, key
        )
        found: dict[str, Any] = {}
        at = 0
        while at < len(plain):
            (size,) = struct.unpack_from(">H", plain, at)
            pointer = plain[at + 2 : at + 2 + size].decode()
            at += 2 + size
            kind = plain[at : at + 1]
            (length,) = struct.unpack_from(">I", plain, at + 1)
            payload = plain[at + 5 : at + 5 + length]
            at += 5 + length
            found[pointer] = (
                base64.b64encode(payload).decode() if kind == b"b" else orjson.loads(payload)
            )
        return found
    except (nacl.exceptions.CryptoError, ValueError, TypeError, struct.error) as exc:
        raise VaultError(f"a slot's values do not open with its key: {exc}") from None


def _find(value: Any, pointer: str, found: list[tuple[str, Any, Any]], exact: bool) -> None:
    """Every personal value: (pointer, its container, its key or index); a list under a
    personal name yields each non-null item. :class:`_Float` at a float orjson read."""
    if type(value) is dict:
        items: Any = value.items()
    else:
        items = enumerate(value)
    for name, item in items:
        kind = type(item)
        if kind is dict or kind is list:
            if name in PERSONAL and type(name) is str:
                here = f"{pointer}/{_escape(name)}"
                if kind is list:
                    for i, member in enumerate(item):
                        if member is not None:
                            found.append((f"{here}/{i}", item, i))
                else:
                    found.append((here, value, name))
            else:
                _find(
                    item, f"{pointer}/{_escape(name) if type(name) is str else name}", found, exact
                )
        elif kind is float and not exact:
            raise _Float
        elif item is not None and type(name) is str and name in PERSONAL:
            found.append((f"{pointer}/{_escape(name)}", value, name))


def _subjects(value: Any) -> dict[str, tuple[int, str]]:
    """Pointer of each subject pseudonym -> its index among the event's subjects, and
    the pseudonym."""
    found: dict[str, tuple[int, str]] = {}
    if not isinstance(value, dict):
        return found
    keys = value.get("subject_keys")
    if isinstance(keys, list):
        for i, item in enumerate(keys):
            if isinstance(item, str):
                found[f"/subject_keys/{i}"] = (i, item)
    if isinstance(value.get("subject_key"), str):
        found["/subject_key"] = (0, value["subject_key"])
    return found


def _open(
    value: Any,
    pointer: str,
    identity: str | None,
    keys: Mapping[str, bytes | None],
    plains: Mapping[str, Mapping[str, Any] | None],
    opened: Opened,
    skip: frozenset[str],
) -> None:
    """Replace the tokens under personal names (in place), walking only containers."""
    items: Any = value.items() if type(value) is dict else enumerate(value)
    for name, item in list(items):
        kind = type(item)
        if type(name) is str and name in PERSONAL:
            here = f"{pointer}/{_escape(name)}"
            if kind is str:
                value[name] = _opened(item, here, identity, keys, plains, opened, name in skip)
            elif kind is list:
                for i, member in enumerate(item):
                    if type(member) is str:
                        skipped = name in skip
                        item[i] = _opened(
                            member, f"{here}/{i}", identity, keys, plains, opened, skipped
                        )
        elif kind is dict or kind is list:
            _open(item, _child(pointer, name), identity, keys, plains, opened, skip)


def _opened(
    token: str,
    pointer: str,
    identity: str | None,
    keys: Mapping[str, bytes | None],
    plains: Mapping[str, Mapping[str, Any] | None],
    opened: Opened,
    skipped: bool,
) -> Any:
    """The value a token stands for (None where its key is gone, or it is skipped)."""
    if not token.startswith(TOKEN):
        return token  # stored before the vault (not a token)
    slot = token_slot(token)
    key = keys.get(slot)
    if key is None:
        opened.erased += 1
        (opened.destroyed if slot in keys else opened.missing).add(slot)
        return None
    if skipped:
        return None
    values = plains.get(slot)
    if values is None or pointer not in values:
        raise VaultError(f"the sealed values of slot {slot} do not hold {pointer}")
    plain = values[pointer]
    if identity is not None:
        opened.values.append((pointer, text(plain)))
        opened.salts[pointer] = salt_of(key, identity, pointer)
    return plain
