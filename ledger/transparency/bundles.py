"""Proofs as JSON documents, exactly as the API serves them, and their offline check. Pure.

An inclusion bundle carries hashes only: the leaf hash (and, for a ``ledger-leaf/v2``
leaf, its input, which frames the event's position, identity, type and the SHA-256 of
its disclosable form: no content), the audit path and the signed tree head it is
against; a consistency bundle carries both signed tree heads and the path between them.
Checking one needs only the log's public key (a LogKey): the signatures are checked
first, then the Merkle maths. Hashes are standard base64, as in the checkpoint's root
line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger import merkle
from ledger.transparency.checkpoint import BadTreeHead, LogKey, SignedTreeHead, b64, unb64
from ledger.transparency.leaves import LeafInput, MalformedLeaf


class MalformedBundle(ValueError):
    """The document is not a proof bundle of the expected kind."""


class VerificationFailed(ValueError):
    """The bundle is well-formed but does not prove what it claims."""


def inclusion_bundle(
    *,
    leaf_index: int,
    position: int,
    leaf_hash: bytes,
    leaf_input: bytes | None,
    proof: Sequence[bytes],
    head: SignedTreeHead,
    key: LogKey,
    nodes_read: int,
) -> dict[str, Any]:
    """The JSON inclusion proof of one leaf against one signed tree head; ``leaf_input``
    only where it shows no content (a v2 leaf)."""
    bundle: dict[str, Any] = {
        "kind": "inclusion-proof",
        "leaf_index": leaf_index,
        "position": position,
        "tree_size": head.head.tree_size,
        "leaf_hash": b64(leaf_hash),
        "inclusion_path": [b64(h) for h in proof],
        "tree_head": head.to_json(key),
        "nodes_read": nodes_read,
    }
    if leaf_input is not None:
        bundle["leaf_input"] = b64(leaf_input)
    return bundle


def consistency_bundle(
    *,
    first: SignedTreeHead,
    second: SignedTreeHead,
    proof: Sequence[bytes],
    key: LogKey,
    nodes_read: int,
) -> dict[str, Any]:
    """The JSON consistency proof between two signed tree heads."""
    return {
        "kind": "consistency-proof",
        "first": first.to_json(key),
        "second": second.to_json(key),
        "consistency_path": [b64(h) for h in proof],
        "nodes_read": nodes_read,
    }


def _signed_head(data: Any, key: LogKey, what: str) -> SignedTreeHead:
    try:
        signed = SignedTreeHead.from_json(data)
    except BadTreeHead as exc:
        raise MalformedBundle(f"{what}: {exc}") from None
    try:
        key.verify(signed.head, signed.signature)
    except BadTreeHead as exc:
        raise VerificationFailed(f"{what}: {exc}") from None
    return signed


def _hashes(data: Any, what: str) -> list[bytes]:
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise MalformedBundle(f"{what} must be a list of base64 hashes")
    try:
        return [unb64(x, what) for x in data]
    except BadTreeHead as exc:
        raise MalformedBundle(str(exc)) from None


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedBundle(f"{name} is missing or not a {kind.__name__}")
    return value


def verify_inclusion_bundle(data: Any, key: LogKey) -> str:
    """Check an inclusion bundle; return a one-line account or raise VerificationFailed."""
    if not isinstance(data, dict) or data.get("kind") != "inclusion-proof":
        raise MalformedBundle("not an inclusion proof (kind must be 'inclusion-proof')")
    signed = _signed_head(data.get("tree_head"), key, "tree head")
    leaf_index, size = _field(data, "leaf_index", int), _field(data, "tree_size", int)
    if size != signed.head.tree_size:
        raise VerificationFailed(
            f"tree_size {size} is not the signed head's {signed.head.tree_size}"
        )
    position = _field(data, "position", int)
    try:
        leaf_hash = unb64(_field(data, "leaf_hash", str), "leaf_hash")
        shown = data.get("leaf_input")
        leaf_input = None if shown is None else unb64(_field(data, "leaf_input", str), "leaf_input")
        parsed = None if leaf_input is None else LeafInput.parse(leaf_input)
    except (BadTreeHead, MalformedLeaf) as exc:
        raise MalformedBundle(str(exc)) from None
    if leaf_input is not None and merkle.leaf_hash(leaf_input) != leaf_hash:
        raise VerificationFailed(
            f"leaf_hash {b64(leaf_hash)} is not the hash of leaf_input "
            f"({b64(merkle.leaf_hash(leaf_input))})"
        )
    if parsed is not None and position != parsed.position:
        raise VerificationFailed(f"position {position} is not the leaf's {parsed.position}")
    path = _hashes(data.get("inclusion_path"), "inclusion_path")
    try:
        merkle.verify_inclusion(leaf_index, size, leaf_hash, path, signed.head.root_hash)
    except merkle.ProofError as exc:
        raise VerificationFailed(f"inclusion proof refused: {exc}") from None
    return (
        f"OK: ledger position {position} (leaf {leaf_index}) is in the tree of size {size} "
        f"signed by {key.name} at {signed.head.time.isoformat()}"
    )


def verify_consistency_bundle(data: Any, key: LogKey) -> str:
    """Check a consistency bundle; return a one-line account or raise VerificationFailed."""
    if not isinstance(data, dict) or data.get("kind") != "consistency-proof":
        raise MalformedBundle("not a consistency proof (kind must be 'consistency-proof')")
    first = _signed_head(data.get("first"), key, "first tree head")
    second = _signed_head(data.get("second"), key, "second tree head")
    path = _hashes(data.get("consistency_path"), "consistency_path")
    size1, size2 = first.head.tree_size, second.head.tree_size
    try:
        merkle.verify_consistency(size1, size2, path, first.head.root_hash, second.head.root_hash)
    except merkle.ProofError as exc:
        raise VerificationFailed(f"consistency proof {size1} -> {size2} refused: {exc}") from None
    return f"OK: the tree of size {size2} extends the tree of size {size1} (log {key.name})"
