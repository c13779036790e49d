"""Checking a response bundle offline, with the log's public key only. Pure.

What :func:`verify_bundle` checks, in order, each failure named with what and where:

1. the tree head's signature (the log's key);
2. the manifest's signature (the same key; :mod:`ledger.dsar.form`);
3. every header member and every section against its digest in the manifest, and that
   nothing unsigned was added at the top level;
4. that every item of the copy has an entry in the manifest and every entry an item;
5. for each item: every member against its digest (a changed sentence, date, detail,
   redaction note or opening is named), its disclosable form against the manifest's
   SHA-256 and the leaf input's, the leaf input against its position and the leaf
   hash, the inclusion proof against the signed tree head, the kind against the
   event type the leaf frames, the time against the time in the disclosable form,
   and each opening against the commitment it opens;
6. that the sections agree with the items: the purposes, categories, recipients,
   retention periods, sources, transfer safeguards and counts each section lists are
   exactly those the items imply (:func:`ledger.dsar.articles.derived_entries`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger_emitter import canonical

from ledger import merkle
from ledger.dsar import articles
from ledger.dsar.form import FORMAT, HEADER, MANIFEST_KIND, PROVEN, digest
from ledger.transparency.bundles import MalformedBundle
from ledger.transparency.checkpoint import BadTreeHead, LogKey, SignedTreeHead, b64
from ledger.transparency.disclosure import commit
from ledger.transparency.leaves import LeafInput, MalformedLeaf

TOP_LEVEL = (*HEADER, "sections", "items", "manifest", "signature")
# The aggregate class an event type's topic names, and the kind of item it makes.
KIND_OF_TOPIC = {
    "DataAccess": articles.ACCESS,
    "DataShare": articles.SHARE,
    "Consent": articles.CONSENT,
    "Objection": articles.OBJECTION,
    "SubjectAccessRequest": articles.REQUEST,
    "AccessQuery": articles.QUERY,
}


@dataclass(frozen=True)
class BundleReport:
    """What the check found: no problems means the bundle is what the ledger signed."""

    problems: tuple[str, ...]
    items: int
    tree_size: int | None
    key: str

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (
                f"OK: {self.items} items, each proved in the tree of size {self.tree_size} "
                f"signed by {self.key}; the manifest is signed by the same key and the "
                "sections agree with the items"
            )
        return f"FAILED: {len(self.problems)} problems:\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )


class _Bad(Exception):
    """One thing wrong with one part of the bundle (its message says what and where)."""


def _get(data: Any, name: str, kind: type, where: str) -> Any:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Bad(f"{where}: '{name}' is missing or not a {kind.__name__}")
    return value


def _bytes(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text).encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _Bad(f"{what} is not base64") from None


def _safe_digest(value: Any) -> str | None:
    try:
        return digest(value)
    except (ValueError, TypeError, RecursionError):
        return None


def verify_bundle(document: Any, log_key: LogKey) -> BundleReport:
    """Check a response bundle offline; raise MalformedBundle only for a document that
    is not a bundle at all. Every other fault is a problem in the report."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise MalformedBundle(f"not a response bundle (its format must be {FORMAT!r})")
    problems: list[str] = []
    manifest = document.get("manifest")
    items = document.get("items")
    if not isinstance(manifest, dict):
        return BundleReport(("the manifest is missing",), 0, None, log_key.verifier_key)
    head = _tree_head(manifest, log_key, problems)
    _signature(document, manifest, log_key, problems)
    _header_and_sections(document, manifest, problems)
    if not isinstance(items, list):
        problems.append("the copy ('items') is missing or not a list")
        items = []
    _items(items, manifest, head, problems)
    _agreement(document, items, problems)
    size = None if head is None else head.head.tree_size
    return BundleReport(tuple(problems), len(items), size, log_key.verifier_key)


def _tree_head(manifest: dict[str, Any], key: LogKey, problems: list[str]) -> SignedTreeHead | None:
    try:
        head = SignedTreeHead.from_json(manifest.get("tree_head"))
        key.verify(head.head, head.signature)
        return head
    except BadTreeHead as exc:
        problems.append(f"tree head: {exc}")
        return None


def _signature(
    document: dict[str, Any], manifest: dict[str, Any], key: LogKey, problems: list[str]
) -> None:
    try:
        signature = _get(document, "signature", dict, "signature")
        key_id = _get(signature, "key_id", str, "signature")
        if key_id != key.key_id.hex():
            raise _Bad(f"signature: made with key id {key_id}, not this log's ({key.key_id.hex()})")
        value = _bytes(_get(signature, "value", str, "signature"), "signature: 'value'")
        if manifest.get("kind") != MANIFEST_KIND:
            raise _Bad(f"manifest: its kind must be {MANIFEST_KIND!r}")
        try:
            body = canonical(manifest)
        except (ValueError, TypeError, RecursionError):
            raise _Bad("manifest: not JSON that has a canonical form") from None
        key.verify_document(MANIFEST_KIND, body, value)
    except _Bad as exc:
        problems.append(str(exc))
    except BadTreeHead:
        problems.append(
            "signature: the manifest's signature is not valid for the log's key "
            f"{key.verifier_key} (the manifest was changed, or signed by another key)"
        )


def _header_and_sections(
    document: dict[str, Any], manifest: dict[str, Any], problems: list[str]
) -> None:
    signed = manifest.get("header")
    signed = signed if isinstance(signed, dict) else {}
    for name in HEADER:
        if _safe_digest(document.get(name)) != signed.get(name):
            problems.append(f"header: '{name}' is not what the ledger signed")
    for name in sorted(set(document) - set(TOP_LEVEL)):
        problems.append(f"'{name}' is not part of a bundle: nothing signed it")
    sections = document.get("sections")
    digests = manifest.get("sections")
    if not isinstance(sections, list) or not isinstance(digests, list):
        problems.append("the sections, or their digests in the manifest, are missing")
        return
    if len(sections) != len(articles.KEYS) or len(digests) != len(articles.KEYS):
        problems.append(
            f"there must be {len(articles.KEYS)} sections (UK GDPR Art. 15); "
            f"the bundle has {len(sections)}, the manifest {len(digests)}"
        )
    for number, (section, signed_digest) in enumerate(zip(sections, digests, strict=False), 1):
        key = articles.KEYS[number - 1] if number <= len(articles.KEYS) else "?"
        if _safe_digest(section) != signed_digest:
            problems.append(f"section {number} ({key}) is not what the ledger signed")


def _items(
    items: list[Any],
    manifest: dict[str, Any],
    head: SignedTreeHead | None,
    problems: list[str],
) -> None:
    entries = manifest.get("entries")
    if not isinstance(entries, list):
        problems.append("manifest: 'entries' is missing or not a list")
        return
    listed: dict[int, dict[str, Any]] = {}
    for number, entry in enumerate(entries):
        position = entry.get("position") if isinstance(entry, dict) else None
        if not isinstance(position, int) or isinstance(position, bool):
            problems.append(f"manifest entry {number}: 'position' is missing or not an int")
        elif position in listed:
            problems.append(f"manifest: ledger position {position} is listed twice")
        else:
            listed[position] = entry
    seen: set[int] = set()
    for number, item in enumerate(items):
        position = item.get("position") if isinstance(item, dict) else None
        where = f"copy item {number + 1}"
        if not isinstance(position, int) or isinstance(position, bool):
            problems.append(f"{where}: 'position' is missing or not an int")
            continue
        where = f"item at ledger position {position} ({where})"
        if position in seen:
            problems.append(f"{where}: the copy holds this ledger position twice")
            continue
        seen.add(position)
        entry = listed.get(position)
        if entry is None:
            problems.append(f"{where}: not in the manifest (an item was added or renumbered)")
            continue
        try:
            problems.extend(_item(item, entry, head, where))
        except _Bad as exc:
            problems.append(str(exc))
    for position in sorted(set(listed) - seen):
        problems.append(
            f"manifest lists ledger position {position}, but the copy has no such item "
            "(an item was removed)"
        )


def _item(
    item: dict[str, Any], entry: dict[str, Any], head: SignedTreeHead | None, where: str
) -> list[str]:
    found: list[str] = []
    fields = _get(entry, "fields", dict, f"{where}: manifest entry")
    for name in sorted(set(item) - set(PROVEN) | set(fields)):
        if name not in item:
            found.append(f"{where}: '{name}' was removed")
        elif name not in fields:
            found.append(f"{where}: '{name}' was added; the ledger did not sign it")
        elif _safe_digest(item[name]) != fields[name]:
            found.append(f"{where}: '{name}' is not what the ledger signed")
    leaf_index = _get(item, "leaf_index", int, where)
    if leaf_index != entry.get("leaf_index"):
        found.append(f"{where}: leaf index {leaf_index} is not the manifest's")
    content = _bytes(_get(item, "disclosable", str, where), f"{where}: 'disclosable'")
    content_sha256 = hashlib.sha256(content).digest()
    if b64(content_sha256) != entry.get("content_sha256"):
        found.append(f"{where}: its disclosable form is not the one the manifest lists")
    leaf_input = _bytes(entry.get("leaf_input"), f"{where}: manifest 'leaf_input'")
    try:
        leaf = LeafInput.parse(leaf_input)
    except MalformedLeaf as exc:
        raise _Bad(f"{where}: manifest leaf input: {exc}") from None
    if leaf.position != item["position"]:
        found.append(f"{where}: the leaf input is ledger position {leaf.position}'s")
    if leaf.content_sha256 != content_sha256:
        found.append(f"{where}: its disclosable form is not the one the leaf commits to")
    leaf_hash = merkle.leaf_hash(leaf_input)
    if b64(leaf_hash) != entry.get("leaf_hash"):
        found.append(f"{where}: the manifest's leaf hash is not the hash of its leaf input")
    found += _proof(entry, leaf_index, leaf_hash, head, where)
    found += _against_content(item, leaf, content, where)
    return found


def _proof(
    entry: dict[str, Any],
    leaf_index: int,
    leaf_hash: bytes,
    head: SignedTreeHead | None,
    where: str,
) -> list[str]:
    if head is None:
        return [f"{where}: no valid signed tree head to prove it against"]
    path = entry.get("inclusion_path")
    if not isinstance(path, list):
        return [f"{where}: the manifest gives no inclusion proof"]
    nodes = [_bytes(node, f"{where}: inclusion proof node {i}") for i, node in enumerate(path)]
    try:
        merkle.verify_inclusion(
            leaf_index, head.head.tree_size, leaf_hash, nodes, head.head.root_hash
        )
    except merkle.ProofError as exc:
        return [f"{where} (leaf {leaf_index}): inclusion proof refused: {exc}"]
    return []


def _against_content(
    item: dict[str, Any], leaf: LeafInput, content: bytes, where: str
) -> list[str]:
    """What the disclosable form and the leaf say about the item themselves."""
    found: list[str] = []
    aggregate = (leaf.topic or "").rpartition(":")[2].partition(".")[0]
    expected = KIND_OF_TOPIC.get(aggregate)
    if expected is not None and item.get("kind") != expected:
        found.append(f"{where}: kind {item.get('kind')!r} but the leaf is a {expected!r} event")
    try:
        event = json.loads(content)
    except ValueError:
        return [*found, f"{where}: its disclosable form is not JSON"]
    when = _event_time(event)
    if when is not None and _moment(item.get("occurred_at")) != when:
        found.append(
            f"{where}: occurred_at {item.get('occurred_at')!r} is not the event's time "
            f"({when.isoformat()})"
        )
    openings = item.get("openings")
    for opening in openings if isinstance(openings, list) else []:
        pointer = opening.get("pointer") if isinstance(opening, dict) else None
        try:
            salt = bytes.fromhex(str(opening.get("salt")))
            opened = commit(salt, str(opening.get("value")))
        except (ValueError, AttributeError):
            opened = None
        if opened is None or _at(event, pointer) != opened:
            found.append(f"{where}: the opening at {pointer!r} does not open its commitment")
    return found


def _event_time(event: Any) -> datetime | None:
    if not isinstance(event, dict):
        return None
    for name in ("occurred_at", "at"):
        value = event.get(name)
        if isinstance(value, dict):
            value = value.get("_data_")  # eventsourcing's transcoded datetime
        if (moment := _moment(value)) is not None:
            return moment
    return None


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _at(event: Any, pointer: Any) -> Any:
    """The value at a JSON pointer (RFC 6901), or None."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        return None
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(event, dict):
            event = event.get(token)
        elif isinstance(event, list) and token.isdigit() and int(token) < len(event):
            event = event[int(token)]
        else:
            return None
    return event


def _agreement(document: dict[str, Any], items: list[Any], problems: list[str]) -> None:
    sections = document.get("sections")
    organisation = document.get("organisation")
    if not isinstance(sections, list) or not isinstance(organisation, Mapping):
        return
    shown = [item for item in items if isinstance(item, Mapping)]
    org = str(organisation.get("code"))
    for number, section in enumerate(sections[: len(articles.KEYS)], 1):
        key = articles.KEYS[number - 1]
        if not isinstance(section, Mapping) or section.get("key") != key:
            problems.append(f"section {number} must be '{key}'")
            continue
        try:
            implied = articles.derived_entries(key, shown, org)
        except (TypeError, ValueError):
            implied = None
        listed = section.get("entries")
        if listed != implied:
            problems.append(
                f"section {number} ({key}) does not agree with the items: "
                + _difference(listed, implied)
            )


def _difference(listed: Any, implied: list[dict[str, Any]] | None) -> str:
    if implied is None:
        return "the items do not say what it lists"
    if not isinstance(listed, list):
        return "its entries are not a list"
    for shown, expected in zip(listed, implied, strict=False):
        if shown != expected:
            return f"it lists {_brief(shown)} where the items imply {_brief(expected)}"
    if len(listed) > len(implied):
        return f"it lists {_brief(listed[len(implied)])}, which no item implies"
    return f"it leaves out {_brief(implied[len(listed)])}"


def _brief(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."
