"""Building the response to a subject access request: a document anyone can check
with the log's public key alone (its format: :mod:`ledger.dsar.form`). Pure.

:func:`build_bundle` takes what the gatherer found (``projections.dsar_search``) and
returns a :class:`ResponseBundle`; :func:`verify_bundle` checks one offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from ledger_emitter import canonical

from ledger import merkle
from ledger.collector import paused
from ledger.dsar import articles, render
from ledger.dsar.form import (
    FORMAT,
    HEADER,
    MANIFEST_KIND,
    PROVEN,
    Serialiser,
    digest,
    sorted_json,
)
from ledger.dsar.redaction import RedactionDecision, in_force
from ledger.dsar.verification import BundleReport, verify_bundle
from ledger.transparency.checkpoint import LogSigner, SignedTreeHead, b64
from ledger.transparency.disclosure import Opening

__all__ = [
    "BundleReport",
    "Case",
    "Controller",
    "RedactionDecision",
    "ResponseBundle",
    "SubjectItem",
    "build_bundle",
    "verify_bundle",
]

NATIONS = ("england-and-wales", "scotland", "northern-ireland")


@dataclass(frozen=True)
class Controller:
    """The organisation answering: its code, its name as it reads mid-sentence, and the
    nation whose bank holidays its clock follows."""

    code: str
    name: str
    nation: str = "england-and-wales"

    def __post_init__(self) -> None:
        if self.nation not in NATIONS:
            raise ValueError(f"nation must be one of {', '.join(NATIONS)}")


@dataclass(frozen=True)
class Case:
    """The request being answered, and what the officer asked the search to include."""

    reference: str
    received: date
    kinds: tuple[str, ...] = articles.KINDS
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(articles.KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be among {', '.join(articles.KINDS)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "received": self.received.isoformat(),
            "include": {
                "kinds": list(self.kinds),
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
            },
        }


@dataclass(frozen=True)
class SubjectItem:
    """One event of the person's, as gathered: where it is in the log, what it says,
    and what proves it (its disclosable form, leaf input and inclusion path)."""

    position: int
    leaf_index: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    organisation: str
    sentence: str
    detail: Mapping[str, Any]
    disclosable: bytes
    leaf_input: bytes
    inclusion_path: Sequence[bytes]
    openings: Sequence[Opening] = ()
    third_parties: Sequence[str] = ()  # which of redaction.THIRD_PARTY the event holds


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times in a bundle must carry their time zone")
    return moment.isoformat()


@dataclass(frozen=True)
class ResponseBundle:
    """A built bundle: the document, its canonical bytes and their SHA-256, and its
    readable forms."""

    document: dict[str, Any]
    json_bytes: bytes = field(repr=False)

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of :attr:`json_bytes`: what the ``responded`` event records."""
        return hashlib.sha256(self.json_bytes).hexdigest()

    @property
    def records(self) -> int:
        return len(self.document["items"])

    @property
    def redactions(self) -> int:
        """How many third-party values the copy withholds."""
        return sum(
            not r["disclosed"] for item in self.document["items"] for r in item["redactions"]
        )

    @property
    def not_yet_sealed(self) -> int:
        return int(self.document["cut_off"]["not_yet_sealed"])

    def html(self) -> str:
        with paused():
            return render.html(self.document, self.sha256)

    def pdf(self) -> bytes:
        with paused():
            return render.pdf(self.document, self.sha256)


@paused()
def build_bundle(
    *,
    controller: Controller,
    case: Case,
    items: Sequence[SubjectItem],
    head: SignedTreeHead,
    signer: LogSigner,
    names: Mapping[str, str],
    generated_at: datetime,
    decisions: Sequence[RedactionDecision] = (),
    disclose: Callable[[int, str], str] | None = None,
    not_yet_sealed: int = 0,
) -> ResponseBundle:
    """The signed bundle of ``items``, every one proved against ``head``.

    ``names`` gives organisations' names by code; ``disclose(position, field)`` gives
    the value shown for a third-party field an officer decided to disclose (it is never
    called for a withheld one); ``not_yet_sealed`` counts the records the search found
    that ``head`` does not cover yet, which the bundle leaves out and says so. Built with
    the collector paused: a few million objects, none in a cycle (ledger.collector).
    """
    signer.key.verify(head.head, head.signature)
    size = head.head.tree_size
    for item in items:
        if not 0 <= item.leaf_index < size:
            raise ValueError(
                f"ledger position {item.position} is leaf {item.leaf_index}, "
                f"not in the signed tree of size {size}"
            )
    present = {(item.position, f) for item in items for f in item.third_parties}
    redactions = in_force(decisions, present, generated_at)
    ordered = sorted(items, key=lambda i: (i.occurred_at, i.position), reverse=True)
    copy = [_item(item, redactions, disclose) for item in ordered]
    header = _header(controller, case, copy, names, head, generated_at, not_yet_sealed)
    sections = articles.sections(header["organisation"], header["case"], copy)
    # Every value built here is a string, a small integer, a boolean or null under an
    # ASCII member name: plain (form.sorted_json). Only the details come from outside.
    serialise = sorted_json if all(_plain(item) for item in items) else canonical
    try:
        document = _signed(header, sections, copy, items, head, signer, serialise)
        return ResponseBundle(document, serialise(document))
    except TypeError:  # orjson.JSONEncodeError: a string orjson refuses (a lone surrogate)
        document = _signed(header, sections, copy, items, head, signer, canonical)
        return ResponseBundle(document, canonical(document))


def _plain(item: SubjectItem) -> bool:
    """Whether orjson's sorted form of the item's detail is its JCS form."""
    try:
        jcs = canonical(item.detail)
    except ValueError as exc:
        raise ValueError(
            f"the detail of ledger position {item.position} has no RFC 8785 form: {exc}"
        ) from None
    try:
        return jcs == sorted_json(item.detail)
    except TypeError:
        return False


def _signed(
    header: dict[str, Any],
    sections: list[dict[str, Any]],
    copy: list[dict[str, Any]],
    items: Sequence[SubjectItem],
    head: SignedTreeHead,
    signer: LogSigner,
    serialise: Serialiser,
) -> dict[str, Any]:
    """The document: the manifest of its header, sections and items, signed."""
    encoded: dict[bytes, str] = {}  # proof nodes, shared by many items, encoded once
    manifest = {
        "kind": MANIFEST_KIND,
        "header": {name: digest(header[name], serialise) for name in HEADER},
        "sections": [digest(section, serialise) for section in sections],
        "tree_head": head.to_json(signer.key),
        "entries": [
            _entry(item, fields, serialise, encoded) for item, fields in _by_position(items, copy)
        ],
    }
    signature = signer.sign_document(MANIFEST_KIND, serialise(manifest))
    return {
        **header,
        "sections": sections,
        "items": copy,
        "manifest": manifest,
        "signature": {
            "algorithm": "Ed25519",
            "key_name": signer.key.name,
            "key_id": signer.key.key_id.hex(),
            "value": b64(signature),
        },
    }


def _item(
    item: SubjectItem,
    redactions: Mapping[tuple[int, str], Any],
    disclose: Callable[[int, str], str] | None,
) -> dict[str, Any]:
    notes = [redactions[(item.position, f)] for f in item.third_parties]
    shown: dict[str, str] = {}
    for note in notes:
        if note.disclosed:
            if disclose is None:
                raise ValueError(
                    f"an officer disclosed {note.field!r} of ledger position {item.position}, "
                    "but no one can tell its value"
                )
            shown[note.field] = disclose(item.position, note.field)
    return {
        "position": item.position,
        "leaf_index": item.leaf_index,
        "kind": item.kind,
        "occurred_at": _utc(item.occurred_at),
        "recorded_at": _utc(item.recorded_at),
        "organisation": item.organisation,
        "sentence": item.sentence,
        "detail": dict(item.detail),
        "third_parties": shown,
        "redactions": [note.to_json() for note in notes],
        "disclosable": b64(item.disclosable),
        "openings": [opening.to_json() for opening in item.openings],
    }


def _by_position(
    items: Sequence[SubjectItem], copy: Sequence[dict[str, Any]]
) -> list[tuple[SubjectItem, dict[str, Any]]]:
    shown = {entry["position"]: entry for entry in copy}
    return [(item, shown[item.position]) for item in sorted(items, key=lambda i: i.position)]


def _entry(
    item: SubjectItem, shown: Mapping[str, Any], serialise: Serialiser, encoded: dict[bytes, str]
) -> dict[str, Any]:
    return {
        "position": item.position,
        "leaf_index": item.leaf_index,
        "leaf_hash": b64(merkle.leaf_hash(item.leaf_input)),
        "leaf_input": b64(item.leaf_input),
        "content_sha256": b64(hashlib.sha256(item.disclosable).digest()),
        "fields": {
            name: digest(value, serialise) for name, value in shown.items() if name not in PROVEN
        },
        "inclusion_path": [
            encoded.get(h) or encoded.setdefault(h, b64(h)) for h in item.inclusion_path
        ],
    }


def _header(
    controller: Controller,
    case: Case,
    copy: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    head: SignedTreeHead,
    generated_at: datetime,
    not_yet_sealed: int,
) -> dict[str, Any]:
    mentioned = {controller.code}
    for item in copy:
        mentioned.add(item["organisation"])
        detail = item["detail"]
        parties = (detail.get("sender"), detail.get("recipient"))
        mentioned.update(code for code in parties if isinstance(code, str))
    mentioned.discard("")
    organisations = {code: names.get(code, code) for code in sorted(mentioned)}
    organisations[controller.code] = controller.name
    signed_at = head.head.time
    later = (
        f" {articles.records(not_yet_sealed)} about you recorded after that "
        + ("is" if not_yet_sealed == 1 else "are")
        + " not in it yet; ask for them if you need them."
        if not_yet_sealed
        else ""
    )
    return {
        "format": FORMAT,
        "generated_at": _utc(generated_at),
        "organisation": {
            "code": controller.code,
            "name": controller.name,
            "nation": controller.nation,
        },
        "organisations": organisations,
        "case": case.to_json(),
        "cut_off": {
            "tree_size": head.head.tree_size,
            "signed_at": signed_at.isoformat(),
            "not_yet_sealed": not_yet_sealed,
            "text": (
                "This response covers what the ledger had recorded and sealed by "
                f"{articles.day(signed_at)} at {signed_at.astimezone(articles.UK):%H:%M}." + later
            ),
        },
    }
