"""A small real log for the response bundle's unit tests: stored events framed as
ledger-leaf/v2 leaves by the real discloser, a real Merkle tree, a tree head signed
with a real key. Nothing here is faked but the database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import nacl.signing
import orjson

from ledger import merkle
from ledger.dsar.bundle import Case, Controller, ResponseBundle, SubjectItem, build_bundle
from ledger.dsar.redaction import RedactionDecision
from ledger.transparency.checkpoint import LogSigner, SignedTreeHead
from ledger.transparency.disclosure import Discloser
from ledger.transparency.leaves import EventRow

SIGNER = LogSigner("ledger.example/log", nacl.signing.SigningKey(bytes(range(32))))
DISCLOSER = Discloser(bytes(32))
ALEX, SAM = "alex-pseudonym", "sam-pseudonym"
START = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
NAMES = {
    "DWP": "the Department for Work and Pensions",
    "HMRC": "HM Revenue and Customs",
    "NHSE": "NHS England",
}
DWP = Controller("DWP", NAMES["DWP"], "england-and-wales")
CASE = Case("SAR-2026-0042", date(2026, 3, 20))
TOPICS = {
    "data-accessed": "ledger.domain.access:DataAccess.Recorded",
    "data-shared": "ledger.domain.sharing:DataShare.Recorded",
}


def _at(moment: datetime) -> dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": moment.isoformat()}


def access_state(subject: str, organisation: str, at: datetime) -> dict[str, Any]:
    return {
        "occurred_at": _at(at),
        "subject_keys": [subject],
        "organisation": organisation,
        "role": "Work coach",
        "official_key": f"official-of-{organisation}",
        "record": "benefit claim",
        "data_categories": [{"code": "benefits", "text": "your benefit claim details"}],
        "purpose": {"code": "uc-claim", "text": "to process your Universal Credit application"},
        "lawful_basis": {"article6": "public-task", "article9": None},
        "action": "viewed",
        "envelope_sealed": "c2VhbGVk",
    }


def share_state(
    subject: str, sender: str, recipient: str, at: datetime, abroad: dict[str, str] | None
) -> dict[str, Any]:
    return {
        "occurred_at": _at(at),
        "subject_keys": [subject, "someone-else"],
        "reporter": "sender",
        "sender": sender,
        "recipient": recipient,
        "data_categories": [{"code": "income", "text": "your income"}],
        "purpose": {"code": "uc-earnings", "text": "to check earnings for Universal Credit"},
        "lawful_basis": {"article6": "public-task", "article9": None},
        "retention": {"period": "P6Y", "text": "six years after the claim ends"},
        "international_transfer": abroad,
        "envelope_sealed": "c2VhbGVk",
    }


@dataclass
class Event:
    kind: str
    subject: str
    state: dict[str, Any]
    row: EventRow


@dataclass
class SmallLog:
    events: list[Event]
    head: SignedTreeHead
    nodes: dict[tuple[int, int], bytes]

    def proof(self, leaf_index: int) -> list[bytes]:
        return merkle.inclusion_proof(
            leaf_index, self.head.head.tree_size, lambda lv, i: self.nodes[(lv, i)]
        )

    def item(self, leaf_index: int) -> SubjectItem:
        event = self.events[leaf_index]
        row, state, detail = event.row, event.state, dict(event.state)
        assert row.state is not None
        content = DISCLOSER.disclosable(row.identity, row.state)
        for personal in ("subject_keys", "official_key", "envelope_sealed", "occurred_at"):
            detail.pop(personal, None)
        moment = datetime.fromisoformat(state["occurred_at"]["_data_"])
        organisation = state.get("organisation") or state["sender"]
        return SubjectItem(
            position=row.position,
            leaf_index=leaf_index,
            kind=event.kind,
            occurred_at=moment,
            recorded_at=moment + timedelta(seconds=2),
            organisation=organisation,
            sentence=f"{organisation} did something with your data on {moment:%d %B %Y}.",
            detail=detail,
            disclosable=content,
            leaf_input=EventRow(
                row.position,
                row.originator_id,
                row.originator_version,
                row.topic,
                row.state,
                content,
            ).leaf_input(),
            inclusion_path=self.proof(leaf_index),
            openings=DISCLOSER.openings(row.identity, row.state, {event.subject}),
            third_parties=("official",) if "official_key" in state else (),
        )

    def items(self, subject: str, organisation: str) -> list[SubjectItem]:
        return [
            self.item(i)
            for i, e in enumerate(self.events)
            if e.subject == subject
            and organisation in (e.state.get("organisation"), e.state.get("sender"))
        ]


def small_log(extra: Sequence[tuple[str, str, dict[str, Any]]] = ()) -> SmallLog:
    """Alex: three DWP accesses, one DWP share to HMRC and one abroad, one NHSE access;
    Sam: one DWP access. Positions start at 10 and skip some (as real ones may)."""
    plan: list[tuple[str, str, dict[str, Any]]] = [
        ("data-accessed", ALEX, access_state(ALEX, "DWP", START)),
        ("data-accessed", SAM, access_state(SAM, "DWP", START + timedelta(hours=1))),
        ("data-accessed", ALEX, access_state(ALEX, "NHSE", START + timedelta(hours=2))),
        ("data-accessed", ALEX, access_state(ALEX, "DWP", START + timedelta(days=1))),
        ("data-shared", ALEX, share_state(ALEX, "DWP", "HMRC", START + timedelta(days=2), None)),
        (
            "data-shared",
            ALEX,
            share_state(
                ALEX,
                "DWP",
                "NHSE",
                START + timedelta(days=3),
                {"country": "US", "safeguard": "idta"},
            ),
        ),
        ("data-accessed", ALEX, access_state(ALEX, "DWP", START + timedelta(days=4))),
        *extra,
    ]
    events: list[Event] = []
    frontier = merkle.MerkleFrontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for n, (kind, subject, state) in enumerate(plan):
        raw = orjson.dumps(state)
        row = EventRow(10 + 3 * n, uuid.uuid4(), 1, TOPICS[kind], raw)
        content = DISCLOSER.disclosable(row.identity, raw)
        leaf = EventRow(row.position, row.originator_id, 1, row.topic, raw, content).leaf_hash()
        for node in frontier.append(leaf):
            nodes[(node.level, node.index)] = node.hash
        events.append(Event(kind, subject, state, row))
    head = SIGNER.sign(frontier.size, frontier.root(), int(START.timestamp() * 1000) + 10**9)
    return SmallLog(events, head, nodes)


def alex_bundle(
    log: SmallLog | None = None,
    decisions: Sequence[RedactionDecision] = (),
    disclosed: str = "Jo Bloggs, work coach",
) -> ResponseBundle:
    log = log or small_log()
    return build_bundle(
        controller=DWP,
        case=CASE,
        items=log.items(ALEX, "DWP"),
        head=log.head,
        signer=SIGNER,
        names=NAMES,
        generated_at=datetime(2026, 3, 25, 10, 0, tzinfo=UTC),
        decisions=decisions,
        disclose=lambda position, field: disclosed,
    )
