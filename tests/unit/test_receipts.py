"""Consent receipts (ledger.receipts): built from a consent's events as the log shows
them, signed by the log's key, checked offline; every kind of tampering is caught."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

import nacl.signing
import orjson
import pytest

from ledger import merkle
from ledger.receipts import (
    CannotIssue,
    MalformedReceipt,
    ProvenEvent,
    build_receipt,
    verify_receipt,
)
from ledger.transparency.bundles import inclusion_bundle
from ledger.transparency.checkpoint import LogSigner, b64
from ledger.transparency.disclosure import Discloser
from ledger.transparency.leaves import EventRow

SIGNER = LogSigner("ledger.example/log", nacl.signing.SigningKey(bytes(range(32))))
OTHER = LogSigner("ledger.example/log", nacl.signing.SigningKey(bytes(32)))
DISCLOSER = Discloser(bytes(range(32, 64)))
CONSENT = uuid.UUID("5b0e7a5e-0000-4000-8000-000000000001")
PSEUDONYM = "a1" * 32
TOPIC = "ledger.domain.consent:Consent."


def _at(text: str) -> dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": text}


def _state(version: int, extra: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "originator_id": {"_type_": "uuid_hex", "_data_": CONSENT.hex},
            "originator_version": version,
            "timestamp": _at("2026-10-01T09:00:00+00:00"),
            "submission": {
                "source": "urn:ledger:service:nhse:nhs-app",
                "event_id": f"e-{version}",
                "envelope_sha256": "00" * 32,
                "envelope_sealed": "c2VhbGVk",
            },
            **extra,
        }
    )


GIVEN = {
    "originator_topic": "ledger.domain.consent:Consent",
    "subject_key": PSEUDONYM,
    "controller": "NHSE",
    "purpose": {"code": "research", "text": "for research that could improve care"},
    "terms": {
        "data_categories": [
            {"code": "health", "text": "your health records", "special_category": True}
        ],
        "lawful_basis": {"article6": "consent", "article9": "explicit-consent"},
        "collection": {"method": "app", "notice": {"version": "2026-01", "sha256": "ab" * 32}},
    },
    "at": _at("2026-10-01T09:00:00+00:00"),
    "expires_at": None,
}
WITHDRAWN = {"at": _at("2026-11-02T10:30:00+00:00")}


def _log(changes: list[tuple[str, dict[str, Any]]], others: int = 3) -> list[ProvenEvent]:
    """A log of ``others`` unrelated leaves, then the consent's changes, then one more;
    every change proved against the one signed head."""
    leaves: list[bytes] = []
    for n in range(others):
        state = orjson.dumps({"n": n})
        row = EventRow(n + 1, uuid.uuid4(), 1, "ledger.domain.access:DataAccess.Created", state)
        content = DISCLOSER.disclosable(row.identity, state)
        leaves.append(
            EventRow(row.position, row.originator_id, 1, row.topic, state, content).leaf_hash()
        )
    contents: dict[int, bytes] = {}
    inputs: dict[int, bytes] = {}
    for version, (change, extra) in enumerate(changes, 1):
        position = others + version
        state = _state(version, extra)
        identity = f"{CONSENT}/{version}"
        content = DISCLOSER.disclosable(identity, state)
        row = EventRow(position, CONSENT, version, TOPIC + change, state, content)
        contents[position], inputs[position] = content, row.leaf_input()
        leaves.append(merkle.leaf_hash(inputs[position]))
    leaves.append(merkle.leaf_hash(b"a later leaf"))
    head = SIGNER.sign(len(leaves), merkle.root_from_leaf_hashes(leaves), 1_790_000_000_000)

    def node(level: int, index: int) -> bytes:
        return merkle.root_from_leaf_hashes(leaves[index << level : (index + 1) << level])

    return [
        ProvenEvent(
            position,
            contents[position],
            inclusion_bundle(
                leaf_index=position - 1,
                position=position,
                leaf_hash=merkle.leaf_hash(inputs[position]),
                leaf_input=inputs[position],
                proof=merkle.inclusion_proof(position - 1, len(leaves), node),
                head=head,
                key=SIGNER.key,
                nodes_read=0,
            ),
        )
        for position in sorted(contents)
    ]


def _opening() -> dict[str, str]:
    return DISCLOSER.opening(f"{CONSENT}/1", "/subject_key", PSEUDONYM).to_json()


def _receipt() -> dict[str, Any]:
    events = _log([("Given", GIVEN), ("Withdrawn", WITHDRAWN)])
    return build_receipt(events, _opening(), "NHS England", SIGNER)


def test_a_receipt_says_what_the_consent_events_say_and_verifies() -> None:
    receipt = _receipt()
    record = receipt["record"]
    assert record["record_id"] == str(CONSENT)
    assert record["state"] == "withdrawn"
    assert record["state_at"] == "2026-11-02T10:30:00+00:00"
    assert [s["state"] for s in record["history"]] == ["given", "withdrawn"]
    assert record["receipt_for"]["position"] == 5
    assert record["purposes"][0]["dpv"] == [
        {"iri": "https://w3id.org/dpv#ResearchAndDevelopment", "label": "Research and Development"}
    ]
    assert record["lawful_basis"]["dpv"][0]["iri"] == "https://w3id.org/dpv#Consent"
    assert record["subject"]["commitment"].startswith("commit:")
    assert PSEUDONYM not in json.dumps(receipt["evidence"])  # the log shows commitments only
    kantara = receipt["kantara"]
    assert kantara["piiPrincipalId"] == record["subject"]["commitment"]
    assert kantara["collectionMethod"] == "app" and kantara["sensitive"] is True
    assert kantara["services"][0]["purposes"][0]["purposeCategory"] == ["Research and Development"]
    assert "W3C Document License" in receipt["dpv"]["licence"]

    report = verify_receipt(json.loads(json.dumps(receipt)), SIGNER.key)
    assert report.ok, report.problems
    assert report.summary().startswith(f"OK: consent receipt {CONSENT}: withdrawn")


def test_a_purpose_without_a_fitting_term_carries_none() -> None:
    given = {**GIVEN, "purpose": {"code": "support-offers", "text": "to tell you about schemes"}}
    receipt = build_receipt(_log([("Given", given)]), _opening(), "Leeds", SIGNER)
    assert receipt["record"]["purposes"][0]["dpv"] == []
    assert receipt["record"]["state"] == "given"
    assert verify_receipt(receipt, SIGNER.key).ok


def _problems(receipt: dict[str, Any]) -> list[str]:
    report = verify_receipt(receipt, SIGNER.key)
    assert not report.ok
    return report.problems


def test_a_changed_purpose_fails() -> None:
    receipt = _receipt()
    receipt["record"]["purposes"][0]["text"] = "for anything at all"
    problems = _problems(receipt)
    assert any(p.startswith("signature: not valid") for p in problems)
    assert any(p.startswith('record.purposes[0].text: "for anything at all"') for p in problems)


def test_a_changed_state_fails() -> None:
    receipt = _receipt()
    receipt["record"]["state"] = "given"
    problems = _problems(receipt)
    assert any(p.startswith('record.state: "given" is not what') for p in problems)


def test_a_changed_kantara_field_fails() -> None:
    receipt = _receipt()
    receipt["kantara"]["piiControllers"][0]["piiController"] = "Someone else"
    assert any(p.startswith("kantara.piiControllers") for p in _problems(receipt))


def test_a_changed_proof_node_fails() -> None:
    receipt = _receipt()
    path = receipt["evidence"]["events"][1]["proof"]["inclusion_path"]
    path[0] = b64(bytes(32))
    problems = _problems(receipt)
    assert any("inclusion proof refused" in p for p in problems)


def test_a_changed_event_fails_against_its_leaf() -> None:
    receipt = _receipt()
    item = receipt["evidence"]["events"][0]
    event = json.loads(base64.b64decode(item["disclosable"]))
    event["purpose"]["text"] = "for anything at all"
    item["disclosable"] = base64.b64encode(
        orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    ).decode()
    assert any("not the one its leaf commits to" in p for p in _problems(receipt))


def test_an_opening_for_someone_else_fails() -> None:
    receipt = _receipt()
    receipt["record"]["subject"]["opening"]["value"] = "b2" * 32
    assert any(
        p.startswith("record.subject: the opening does not open") for p in _problems(receipt)
    )


def test_a_missing_change_in_the_history_fails() -> None:
    receipt = _receipt()
    del receipt["evidence"]["events"][0]
    problems = _problems(receipt)
    assert any("must be the consent given" in p for p in problems)


def test_a_wrong_key_fails() -> None:
    report = verify_receipt(_receipt(), OTHER.key)
    assert not report.ok
    assert any(p.startswith("signature: made with key id") for p in report.problems)
    assert any("tree head" in p for p in report.problems)


def test_a_receipt_signed_by_another_key_fails_even_with_its_own_evidence() -> None:
    forged = build_receipt(_log([("Given", GIVEN)]), _opening(), "NHS England", OTHER)
    forged["signature"]["key_id"] = SIGNER.key.key_id.hex()
    assert any(p.startswith("signature: not valid") for p in _problems(forged))


def test_something_added_fails() -> None:
    receipt = _receipt()
    receipt["note"] = "trust me"
    assert any("'note' is not part of a receipt" in p for p in _problems(receipt))


def test_not_a_receipt_is_malformed() -> None:
    with pytest.raises(MalformedReceipt):
        verify_receipt({"kind": "inclusion-proof"}, SIGNER.key)
    with pytest.raises(MalformedReceipt):
        verify_receipt([], SIGNER.key)


def test_events_of_another_kind_make_no_receipt() -> None:
    events = _log([("Given", GIVEN)])
    wrong = copy.deepcopy(events)
    wrong[0].proof.pop("leaf_input")
    with pytest.raises(CannotIssue):
        build_receipt(wrong, _opening(), "NHS England", SIGNER)
