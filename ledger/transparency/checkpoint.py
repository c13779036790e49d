"""Signed tree heads and their C2SP form (tlog-checkpoint in a signed note). Pure.

The note text is the checkpoint: origin, tree size, base64 root, then one extension line
``timestamp <unix ms>``, so that the one Ed25519 signature (signed-note type 0x01) binds
all four parts of the tree head. C2SP checkpoint readers ignore extension lines and
signed-note verifiers check the signature over the whole text, so standard tools still
read and verify it. The key name is the log's origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nacl.exceptions
import nacl.signing

ED25519_TYPE = b"\x01"
TIMESTAMP_PREFIX = "timestamp "


class BadTreeHead(ValueError):
    """A tree head, checkpoint or key that is malformed or not validly signed."""


def b64(data: bytes) -> str:
    """Standard base64 of ``data`` (base64.b64encode, without its Python wrapper)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise BadTreeHead(f"{what} is not base64") from None


@dataclass(frozen=True)
class TreeHead:
    """What the log commits to: origin, size, root hash and when it was signed."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp_ms: int

    def note_text(self) -> str:
        """The checkpoint body: the exact text the signature covers."""
        return (
            f"{self.origin}\n{self.tree_size}\n{b64(self.root_hash)}\n"
            f"{TIMESTAMP_PREFIX}{self.timestamp_ms}\n"
        )

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)


@dataclass(frozen=True)
class LogKey:
    """The log's public key, named as in signed notes. All a verifier needs."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """signed-note key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
        return hashlib.sha256(self.name.encode() + b"\n" + ED25519_TYPE + self.public_key).digest()[
            :4
        ]

    @property
    def verifier_key(self) -> str:
        """The key as ``<name>+<hex key id>+<base64(0x01 || key)>`` (note verifier key)."""
        return f"{self.name}+{self.key_id.hex()}+{b64(ED25519_TYPE + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> LogKey:
        """Read a verifier key string, checking its key id."""
        name, plus, rest = text.strip().partition("+")
        key_id_hex, plus2, key_b64 = rest.partition("+")
        raw = unb64(key_b64, "the verifier key") if plus and plus2 else b""
        if not name or len(raw) != 33 or raw[:1] != ED25519_TYPE:
            raise BadTreeHead("not an Ed25519 verifier key (<name>+<hex id>+<base64 key>)")
        key = cls(name, raw[1:])
        if key.key_id.hex() != key_id_hex.lower():
            raise BadTreeHead("the verifier key's id does not match its name and key")
        return key

    def verify(self, head: TreeHead, signature: bytes) -> None:
        """Raise BadTreeHead unless ``signature`` signs ``head`` with this key."""
        if head.origin != self.name:
            raise BadTreeHead(f"tree head origin {head.origin!r} is not this log ({self.name!r})")
        try:
            nacl.signing.VerifyKey(self.public_key).verify(head.note_text().encode(), signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            raise BadTreeHead(
                f"the signature on the tree head of size {head.tree_size} is not valid "
                f"for key {self.verifier_key}"
            ) from None

    def verify_document(self, kind: str, body: bytes, signature: bytes) -> None:
        """Raise BadTreeHead unless ``signature`` signs the document ``body`` of ``kind``
        (see :meth:`LogSigner.sign_document`) with this key."""
        try:
            nacl.signing.VerifyKey(self.public_key).verify(document_text(kind, body), signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            raise BadTreeHead(
                f"the signature on the {kind} is not valid for key {self.verifier_key}"
            ) from None


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree head and the log's Ed25519 signature over its note text."""

    head: TreeHead
    signature: bytes

    def checkpoint(self, key: LogKey) -> str:
        """The C2SP signed note: text, blank line, ``— <name> base64(key id || sig)``."""
        return f"{self.head.note_text()}\n\u2014 {key.name} {b64(key.key_id + self.signature)}\n"

    def to_json(self, key: LogKey) -> dict[str, Any]:
        head = self.head
        return {
            "origin": head.origin,
            "tree_size": head.tree_size,
            "root_hash": b64(head.root_hash),
            "timestamp": head.timestamp_ms,
            "time": head.time.isoformat(),
            "key_name": key.name,
            "key_id": key.key_id.hex(),
            "signature": b64(self.signature),
            "checkpoint": self.checkpoint(key),
        }

    @classmethod
    def from_json(cls, data: Any) -> SignedTreeHead:
        """Read the JSON form; the signature is checked by LogKey.verify, not here."""
        try:
            head = TreeHead(
                origin=str(data["origin"]),
                tree_size=_natural(data["tree_size"], "tree_size"),
                root_hash=unb64(data["root_hash"], "root_hash"),
                timestamp_ms=_natural(data["timestamp"], "timestamp"),
            )
            return cls(head, unb64(data["signature"], "signature"))
        except (KeyError, TypeError) as exc:
            raise BadTreeHead(f"tree head JSON lacks or mistypes {exc}") from None


def _natural(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadTreeHead(f"{what} must be a non-negative integer")
    return value


class LogSigner:
    """Signs tree heads with the log's Ed25519 key."""

    def __init__(self, origin: str, signing_key: nacl.signing.SigningKey) -> None:
        if not origin or any(c.isspace() or c == "+" for c in origin):
            raise ValueError(f"log origin {origin!r} must be non-empty, without spaces or '+'")
        self._signing_key = signing_key
        self.key = LogKey(origin, bytes(signing_key.verify_key))

    def sign(self, tree_size: int, root_hash: bytes, timestamp_ms: int) -> SignedTreeHead:
        head = TreeHead(self.key.name, tree_size, root_hash, timestamp_ms)
        return SignedTreeHead(head, self._signing_key.sign(head.note_text().encode()).signature)

    def sign_document(self, kind: str, body: bytes) -> bytes:
        """The log key's Ed25519 signature over a document other than a tree head (a
        response bundle's manifest), so that a verifier needs only the log's public key."""
        return self._signing_key.sign(document_text(kind, body)).signature


def document_text(kind: str, body: bytes) -> bytes:
    """What a document signature covers: ``"<kind> document\\n" || body``. ``kind`` names
    a format with no whitespace; the space in that first line keeps any such text from
    being a tree head's note text (whose first line, the origin, has none), so the one
    key's signature on a document can never pass for a signed tree head, nor the reverse."""
    if not kind or any(c.isspace() for c in kind):
        raise ValueError(f"a document kind has no whitespace: {kind!r}")
    return f"{kind} document\n".encode() + body


def parse_checkpoint(note: str, key: LogKey) -> SignedTreeHead:
    """Read and verify a checkpoint note signed by ``key``; raise BadTreeHead if not."""
    text, blank, signatures = note.rpartition("\n\n")
    if not blank or not signatures.endswith("\n"):
        raise BadTreeHead("not a signed note (text, blank line, signature lines)")
    text += "\n"
    lines = text[:-1].split("\n")
    if len(lines) != 4 or not lines[3].startswith(TIMESTAMP_PREFIX):
        raise BadTreeHead("checkpoint text must be origin, size, root, timestamp lines")
    size, stamp = lines[1], lines[3][len(TIMESTAMP_PREFIX) :]
    if not (size.isdigit() and stamp.isdigit()) or (size != "0" and size.startswith("0")):
        raise BadTreeHead("checkpoint size and timestamp must be decimal")
    head = TreeHead(lines[0], int(size), unb64(lines[2], "checkpoint root"), int(stamp))
    if head.note_text() != text:
        raise BadTreeHead("checkpoint text is not in canonical form")
    for line in signatures[:-1].split("\n"):
        dash, name, sig = [*line.split(" "), "", ""][:3]
        if dash != "\u2014" or name != key.name:
            continue
        raw = unb64(sig, "note signature")
        if raw[:4] == key.key_id:  # a known key: it must verify (signed-note rules)
            key.verify(head, raw[4:])
            return SignedTreeHead(head, raw[4:])
    raise BadTreeHead(f"no signature by {key.verifier_key} on the checkpoint")
