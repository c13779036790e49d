"""Signed consent receipts: a citizen's copy of one consent change, checked offline. Pure.

A receipt is an ISO/IEC TS 27560 consent record as JSON (``record``), the same values
under the Kantara Consent Receipt v1.1 field names (``kantara``), the W3C DPV terms its
purposes and lawful basis carry (``dpv``, with DPV's licence), and the **evidence**: every
event of the consent up to the change it is for (its disclosable form, exactly as the
log shows it, and its inclusion proof, in the shape ``GET /v1/log/proofs/inclusion``
serves, against one signed tree head), and the opening of the citizen's own commitment
in the consent's first event. The record is *derived* from that evidence
(:func:`record_of`), so a verifier derives it again and compares.

**Signature.** A detached Ed25519 signature by the log's key (the key that signs tree
heads, so a verifier needs only ``ledger log-key``) over
``"ledger-consent-receipt/v1 document\\n" || JCS(receipt without "signature")``, where
JCS is RFC 8785 canonical JSON (:func:`ledger_emitter.canonical`). The first line is the
log's domain separation for documents
(:func:`ledger.transparency.checkpoint.document_text`): a receipt's signature can never
pass for a tree head's or a response bundle's, nor the reverse. (Not JWS: a detached
signature over canonical JSON keeps the receipt one plain JSON document anyone can read,
and is how the ledger signs everything else.)

**Checking one** (:func:`verify_receipt`) reports every problem it finds: the signature;
each event's inclusion proof against the signed tree head (the tree head's signature,
the leaf hash from its leaf input, the audit path; :mod:`ledger.transparency.bundles`);
that each disclosable form is the one its leaf commits to (SHA-256) and the events are
the consent's, in order, none missing; that the opening matches the commitment; and that
the record and its Kantara mapping are what the events say.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from ledger_emitter import canonical

from ledger.transparency.bundles import (
    MalformedBundle,
    VerificationFailed,
    verify_inclusion_bundle,
)
from ledger.transparency.checkpoint import BadTreeHead, LogKey, LogSigner, b64, unb64
from ledger.transparency.disclosure import commit
from ledger.transparency.leaves import LeafInput, MalformedLeaf

KIND = "consent-receipt"
FORMAT = "ledger-consent-receipt/v1"  # also the signed document's kind
TOP_LEVEL = ("kind", "format", "record", "kantara", "dpv", "evidence", "signature")
DPV_FILE = Path(__file__).parent / "catalogue" / "dpv.json"

# The consent aggregate's event topics (in each leaf input), and the state each leads to.
_TOPIC = "ledger.domain.consent:Consent."
STATES = {
    "Given": "given",
    "GivenAgain": "given",
    "Renewed": "renewed",
    "Withdrawn": "withdrawn",
    "Expired": "expired",
}
_TERMS_CHANGE = {"Given", "GivenAgain", "Renewed"}


class MalformedReceipt(ValueError):
    """Not a consent receipt at all (exit 2 in the CLI)."""


class CannotIssue(ValueError):
    """The evidence cannot make a receipt (e.g. a leaf whose input is not published)."""


@dataclass(frozen=True)
class ProvenEvent:
    """One event of the consent as the log shows it: its disclosable form (the exact
    bytes) and its inclusion proof (a bundle with its ``leaf_input``)."""

    position: int
    content: bytes
    proof: dict[str, Any]


@dataclass(frozen=True)
class ReceiptReport:
    """What the check found: no problems means the receipt is what the ledger signed,
    and what it says is what the log holds."""

    key: str
    problems: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            facts = self.record
            return (
                f"OK: consent receipt {facts.get('record_id')}: {facts.get('state')} "
                f"({facts.get('controller', {}).get('code')}, "
                f"{', '.join(p.get('code', '?') for p in facts.get('purposes', []))}) at "
                f"{facts.get('state_at')}; signed by {self.key}; every event of the consent "
                f"is in the tree of size {facts.get('_tree_size')} the log signed, the "
                "subject's commitment opens, and the record is what the events say"
            )
        return "FAILED: the consent receipt does not check out:\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )


@cache
def dpv() -> dict[str, Any]:
    """The vendored DPV terms (ledger/catalogue/dpv.json)."""
    loaded: dict[str, Any] = json.loads(DPV_FILE.read_text(encoding="utf-8"))
    return loaded


def _terms(iris: Sequence[str]) -> list[dict[str, str]]:
    labels = dpv()["terms"]
    return [{"iri": iri, "label": labels[iri]} for iri in iris]


def _plain(value: Any) -> Any:
    """A stored value without eventsourcing's transcoding wrappers (``{"_type_": ...,
    "_data_": ...}`` for datetimes and UUIDs): the text they carry."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            return _plain(value["_data_"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class _Event:
    position: int
    change: str  # Given, Withdrawn, ...
    leaf: LeafInput
    state: dict[str, Any]


def _read(event: ProvenEvent) -> _Event:
    """The event's leaf input (from its proof) and disclosable form, read."""
    shown = event.proof.get("leaf_input")
    if not isinstance(shown, str):
        raise CannotIssue(
            f"position {event.position}: its leaf's input is not published (a first-format "
            "leaf), so its content cannot be checked against the log"
        )
    try:
        leaf = LeafInput.parse(unb64(shown, "leaf_input"))
    except (BadTreeHead, MalformedLeaf) as exc:
        raise CannotIssue(f"position {event.position}: {exc}") from None
    topic = leaf.topic or ""
    change = topic.removeprefix(_TOPIC)
    if not topic.startswith(_TOPIC) or change not in STATES:
        raise CannotIssue(f"position {event.position} is not a consent event ({topic!r})")
    try:
        state = json.loads(event.content)
    except ValueError:
        raise CannotIssue(f"position {event.position}: its disclosable form is not JSON") from None
    if not isinstance(state, dict):
        raise CannotIssue(f"position {event.position}: its disclosable form is not an object")
    return _Event(event.position, change, leaf, _plain(state))


def _category(value: dict[str, Any]) -> dict[str, Any]:
    found = {"code": value.get("code"), "text": value.get("text")}
    if "special_category" in value:
        found["special_category"] = value["special_category"]
    return found


def record_of(
    events: Sequence[_Event], controller_name: str, opening: dict[str, str]
) -> dict[str, Any]:
    """The ISO/IEC TS 27560 consent record the events say: the consent's first event
    first, the change the receipt is for last. Raises CannotIssue on events that are not
    one consent's history."""
    if not events:
        raise CannotIssue("no events")
    first, last = events[0], events[-1]
    if first.change != "Given" or first.leaf.originator_version != 1:
        raise CannotIssue("the first event must be the consent given (version 1)")
    record_id = first.leaf.originator_id
    for number, event in enumerate(events, 1):
        if event.leaf.originator_id != record_id or event.leaf.originator_version != number:
            raise CannotIssue(
                f"position {event.position} is not event {number} of consent {record_id}"
            )
    given = first.state
    terms: dict[str, Any] = {}
    collected: _Event = first
    expires_at = given.get("expires_at")
    for event in events:
        if event.change in _TERMS_CHANGE:
            terms.update(event.state.get("terms") or {})
            collected, expires_at = event, event.state.get("expires_at")
    purpose = given.get("purpose") or {}
    basis = dict(terms.get("lawful_basis") or {})
    collection = terms.get("collection") or {}
    notice = collection.get("notice") or {}
    categories = [_category(c) for c in terms.get("data_categories") or []]
    submission = last.state.get("submission") or {}
    commitment = given.get("subject_key")
    return {
        "standard": "ISO/IEC TS 27560:2023 consent record",
        "record_id": str(record_id),
        "receipt_for": {
            "position": last.position,
            "change": STATES[last.change],
            "at": last.state.get("at"),
            "recorded_from": {
                "source": submission.get("source"),
                "event_id": submission.get("event_id"),
            },
        },
        "subject": {
            "commitment": commitment,
            "opening": opening,
            "note": "the citizen's pseudonym and the salt that open the commitment in the "
            "consent's first event: no identifier in clear",
        },
        "controller": {"code": given.get("controller"), "name": controller_name},
        "purposes": [
            {
                "code": purpose.get("code"),
                "text": purpose.get("text"),
                "dpv": _terms(dpv()["purposes"].get(purpose.get("code"), [])),
            }
        ],
        "data_categories": categories,
        "lawful_basis": {
            "article6": basis.get("article6"),
            "article9": basis.get("article9"),
            "dpv": _terms(dpv()["lawful_bases"].get(basis.get("article6"), [])),
        },
        "notice": {
            "version": notice.get("version"),
            "sha256": notice.get("sha256"),
            "url": notice.get("url"),
        },
        "collection": {"method": collection.get("method"), "at": collected.state.get("at")},
        "expires_at": expires_at,
        "duration": "until withdrawn" if expires_at is None else f"until {expires_at}",
        "state": STATES[last.change],
        "state_at": last.state.get("at"),
        "history": [
            {"state": STATES[e.change], "at": e.state.get("at"), "position": e.position}
            for e in events
        ],
    }


def _epoch(text: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(text)).timestamp())
    except ValueError:
        return None


def kantara_of(record: dict[str, Any], key: LogKey) -> dict[str, Any]:
    """The record under the Kantara Consent Receipt v1.1 field names. What the ledger
    does not hold (the controller's contact details, third-party disclosure) is absent
    rather than guessed."""
    categories = record["data_categories"]
    special = [c["text"] for c in categories if c.get("special_category")]
    basis = record["lawful_basis"]
    receipt_id = uuid.uuid5(
        uuid.NAMESPACE_URL,
        f"urn:ledger:consent-receipt:{record['record_id']}:{record['receipt_for']['position']}",
    )
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "GB",
        "consentTimestamp": _epoch(record["state_at"]),
        "collectionMethod": record["collection"]["method"],
        "consentReceiptID": str(receipt_id),
        "publicKey": key.verifier_key,
        "language": "en",
        "piiPrincipalId": record["subject"]["commitment"],
        "piiControllers": [{"piiController": record["controller"]["name"], "onBehalf": False}],
        "policyUrl": record["notice"]["url"],
        "services": [
            {
                "service": record["receipt_for"]["recorded_from"]["source"],
                "purposes": [
                    {
                        "purpose": purpose["text"],
                        "purposeCategory": [t["label"] for t in purpose["dpv"]],
                        "consentType": "EXPLICIT",
                        "piiCategory": [c["text"] for c in categories],
                        "primaryPurpose": True,
                        "termination": record["duration"],
                    }
                    for purpose in record["purposes"]
                ],
            }
        ],
        "sensitive": bool(special) or basis.get("article9") is not None,
        "spiCat": special,
    }


def _dpv_used(record: dict[str, Any]) -> dict[str, Any]:
    used = {t["iri"]: t["label"] for p in record["purposes"] for t in p["dpv"]}
    used |= {t["iri"]: t["label"] for t in record["lawful_basis"]["dpv"]}
    return {"licence": dpv()["licence"], "source": dpv()["source"], "terms": used}


def build_receipt(
    events: Sequence[ProvenEvent],
    opening: dict[str, str],
    controller_name: str,
    signer: LogSigner,
) -> dict[str, Any]:
    """The signed receipt of the last of ``events`` (every event of one consent up to
    it, oldest first, each proved against the same signed tree head); ``opening`` opens
    the subject commitment of the first (pointer, salt hex, value)."""
    read = [_read(e) for e in events]
    heads = {json.dumps(e.proof.get("tree_head"), sort_keys=True) for e in events}
    if len(heads) != 1:
        raise CannotIssue("every event must be proved against one signed tree head")
    record = record_of(read, controller_name, opening)
    document: dict[str, Any] = {
        "kind": KIND,
        "format": FORMAT,
        "record": record,
        "kantara": kantara_of(record, signer.key),
        "dpv": _dpv_used(record),
        "evidence": {
            "events": [
                {
                    "position": e.position,
                    "disclosable": base64.b64encode(e.content).decode("ascii"),
                    "proof": e.proof,
                }
                for e in events
            ],
        },
    }
    signature = signer.sign_document(FORMAT, canonical(document))
    document["signature"] = {
        "algorithm": "Ed25519",
        "covers": f'"{FORMAT} document\\n" || RFC 8785 canonical JSON of the receipt '
        'without "signature"',
        "key_name": signer.key.name,
        "key_id": signer.key.key_id.hex(),
        "value": b64(signature),
    }
    return document


# Checking a receipt offline.


def _signature(document: dict[str, Any], key: LogKey, problems: list[str]) -> None:
    signature = document.get("signature")
    if not isinstance(signature, dict):
        problems.append("signature: missing")
        return
    if signature.get("key_id") != key.key_id.hex():
        problems.append(
            f"signature: made with key id {signature.get('key_id')!r}, not this log's "
            f"({key.key_id.hex()})"
        )
    try:
        value = unb64(str(signature.get("value")), "signature value")
        body = canonical({k: v for k, v in document.items() if k != "signature"})
        key.verify_document(FORMAT, body, value)
    except BadTreeHead:
        problems.append(
            f"signature: not valid for the log's key {key.verifier_key} (the receipt was "
            "changed after it was signed, or signed by another key)"
        )
    except (ValueError, TypeError, OverflowError):
        problems.append("signature: the receipt is not JSON that has a canonical form")


def _evidence(document: dict[str, Any], key: LogKey, problems: list[str]) -> list[_Event]:
    """Each event's proof checked, its content against its leaf; the events read."""
    evidence = document.get("evidence")
    items = evidence.get("events") if isinstance(evidence, dict) else None
    if not isinstance(items, list) or not items:
        problems.append("evidence: no events")
        return []
    found: list[_Event] = []
    heads = set()
    for number, item in enumerate(items, 1):
        where = f"evidence event {number}"
        if not isinstance(item, dict) or not isinstance(item.get("proof"), dict):
            problems.append(f"{where}: not an event with its proof")
            continue
        proof = item["proof"]
        heads.add(json.dumps(proof.get("tree_head"), sort_keys=True))
        try:
            verify_inclusion_bundle(proof, key)
        except (MalformedBundle, VerificationFailed) as exc:
            problems.append(f"{where} (position {item.get('position')}): {exc}")
            continue
        try:
            content = base64.b64decode(str(item.get("disclosable")), validate=True)
        except ValueError:
            problems.append(f"{where}: 'disclosable' is not base64")
            continue
        if item.get("position") != proof.get("position"):
            problems.append(f"{where}: position {item.get('position')} is not its proof's")
            continue
        try:
            event = _read(ProvenEvent(proof["position"], content, proof))
        except CannotIssue as exc:
            problems.append(f"{where}: {exc}")
            continue
        if hashlib.sha256(content).digest() != event.leaf.content_sha256:
            problems.append(
                f"{where} (position {event.position}): its disclosable form is not the one "
                "its leaf commits to (the event was changed)"
            )
            continue
        found.append(event)
    if len(heads) > 1:
        problems.append("evidence: the events are proved against different tree heads")
    if len(found) != len(items):
        return []
    return found


def _opening(record: dict[str, Any], first: _Event, problems: list[str]) -> dict[str, str]:
    subject = record.get("subject") if isinstance(record.get("subject"), dict) else {}
    opening = subject.get("opening") if isinstance(subject, dict) else None
    if not isinstance(opening, dict):
        problems.append("record.subject: no opening of the subject's commitment")
        return {}
    pointer = opening.get("pointer")
    committed = first.state.get("subject_key") if pointer == "/subject_key" else None
    try:
        opens = commit(bytes.fromhex(str(opening.get("salt"))), str(opening.get("value")))
    except ValueError:
        opens = None
    if committed is None or opens != committed:
        problems.append(
            "record.subject: the opening does not open the subject commitment of the "
            f"consent's first event (position {first.position})"
        )
    return {k: str(v) for k, v in opening.items()}


def _differences(name: str, said: Any, derived: Any) -> list[str]:
    """Where ``said`` is not ``derived``: one problem per member of ``name`` that
    differs, naming the first place inside it that does (``record.purposes[0].text``)."""
    if isinstance(said, dict) and isinstance(derived, dict):
        keys = sorted(set(said) | set(derived))
        found = (_first_difference(f"{name}.{k}", said.get(k), derived.get(k)) for k in keys)
        return [problem for problem in found if problem]
    return [] if said == derived else [f"{name}: not what the log's events say"]


def _first_difference(where: str, said: Any, derived: Any) -> str | None:
    if said == derived:
        return None
    if isinstance(said, dict) and isinstance(derived, dict):
        for key in sorted(set(said) | set(derived)):
            found = _first_difference(f"{where}.{key}", said.get(key), derived.get(key))
            if found:
                return found
    if isinstance(said, list) and isinstance(derived, list) and len(said) == len(derived):
        for index, (one, other) in enumerate(zip(said, derived, strict=True)):
            found = _first_difference(f"{where}[{index}]", one, other)
            if found:
                return found
    return f"{where}: {_brief(said)} is not what the log's events say ({_brief(derived)})"


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def verify_receipt(document: Any, key: LogKey) -> ReceiptReport:
    """Check a consent receipt offline with the log's public key only; every problem
    found is reported. MalformedReceipt when the document is not a receipt at all."""
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise MalformedReceipt(f"not a consent receipt (kind must be {KIND!r})")
    if document.get("format") != FORMAT:
        raise MalformedReceipt(f"unknown receipt format {document.get('format')!r}")
    problems: list[str] = []
    for name in document:
        if name not in TOP_LEVEL:
            problems.append(f"'{name}' is not part of a receipt: nothing signed it")
    _signature(document, key, problems)
    events = _evidence(document, key, problems)
    said = document.get("record")
    if not isinstance(said, dict):
        problems.append("record: missing")
        return ReceiptReport(key.verifier_key, problems)
    if not events:
        problems.append("record: cannot be checked without every event's evidence")
        return ReceiptReport(key.verifier_key, problems)
    opening = _opening(said, events[0], problems)
    controller = said.get("controller")
    name = controller.get("name") if isinstance(controller, dict) else None
    try:
        derived = record_of(events, str(name), opening)
    except CannotIssue as exc:
        problems.append(f"evidence: {exc}")
        return ReceiptReport(key.verifier_key, problems)
    problems += _differences("record", said, derived)
    problems += _differences("kantara", document.get("kantara"), kantara_of(derived, key))
    problems += _differences("dpv", document.get("dpv"), _dpv_used(derived))
    tree_size = document["evidence"]["events"][-1]["proof"].get("tree_size")
    return ReceiptReport(key.verifier_key, problems, {**derived, "_tree_size": tree_size})
