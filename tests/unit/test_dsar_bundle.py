"""The subject access response bundle: built from a small real log (real leaves, a real
Merkle tree, a tree head and manifest signed with a real key), checked offline with the
log's public key only, and refused, precisely, when anything in it is changed."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ledger_emitter import canonical

from ledger.dsar.bundle import build_bundle, verify_bundle
from ledger.dsar.form import FORMAT
from ledger.dsar.redaction import InvalidDecision, RedactionDecision
from ledger.transparency.bundles import MalformedBundle
from ledger.transparency.checkpoint import BadTreeHead, SignedTreeHead, TreeHead
from tests.support.dsar import ALEX, CASE, DWP, NAMES, SIGNER, alex_bundle, small_log

KEY = SIGNER.key


def fresh() -> dict[str, Any]:
    """A bundle as a verifier receives it: the JSON file, read back."""
    return json.loads(alex_bundle().json_bytes)


def problems(document: dict[str, Any]) -> list[str]:
    report = verify_bundle(document, KEY)
    assert not report.ok
    return list(report.problems)


def item_at(document: dict[str, Any], position: int) -> dict[str, Any]:
    return next(i for i in document["items"] if i["position"] == position)


def test_a_bundle_holds_the_persons_items_of_that_organisation_newest_first() -> None:
    log = small_log()
    bundle = alex_bundle(log)
    items = bundle.document["items"]

    expected = {i.position for i in log.items(ALEX, "DWP")}
    assert {i["position"] for i in items} == expected and len(items) == 5
    assert [i["occurred_at"] for i in items] == sorted(
        (i["occurred_at"] for i in items), reverse=True
    )
    assert bundle.document["format"] == FORMAT
    assert [s["number"] for s in bundle.document["sections"]] == list(range(1, 12))


def test_it_verifies_offline_with_the_log_public_key_only() -> None:
    report = verify_bundle(fresh(), KEY)

    assert report.ok, report.problems
    assert report.items == 5 and report.tree_size == 7
    assert report.summary().startswith("OK: 5 items")


def test_its_sha256_is_that_of_its_canonical_json_file() -> None:
    bundle = alex_bundle()

    assert bundle.json_bytes == canonical(bundle.document)
    assert bundle.sha256 == hashlib.sha256(bundle.json_bytes).hexdigest()
    assert canonical(json.loads(bundle.json_bytes)) == bundle.json_bytes


def test_the_sections_are_drawn_from_the_items() -> None:
    sections = {s["key"]: s for s in alex_bundle().document["sections"]}

    assert [e["code"] for e in sections["purposes"]["entries"]] == ["uc-claim", "uc-earnings"]
    assert {e["code"] for e in sections["categories"]["entries"]} == {"benefits", "income"}
    recipients = sections["recipients"]["entries"]
    assert {(r["organisation"], r["country"]) for r in recipients} == {
        ("HMRC", None),
        ("NHSE", "US"),
    }
    assert sections["retention"]["entries"][0]["text"] == "six years after the claim ends"
    safeguard = sections["transfer-safeguards"]["entries"]
    assert [(s["country"], s["safeguard"]) for s in safeguard] == [("US", "idta")]
    assert "International Data Transfer Agreement" in safeguard[0]["text"]
    complaint = " ".join(sections["complaint"]["paragraphs"])
    assert "ico.org.uk/make-a-complaint" in complaint and "0303 123 1113" in complaint
    automated = " ".join(sections["automated-decisions"]["paragraphs"])
    assert "No record in this response shows a decision about you made by automated" in automated
    assert sections["source"]["entries"] == []  # DWP received nothing about Alex


def test_officials_are_withheld_by_default_and_the_decision_is_shown() -> None:
    bundle = alex_bundle(disclosed="Jo Bloggs, work coach")

    accesses = [i for i in bundle.document["items"] if i["kind"] == "data-accessed"]
    assert len(accesses) == 3
    for item in accesses:
        [note] = item["redactions"]
        assert note["field"] == "official" and not note["disclosed"]
        assert note["decided_by"] == "default rule" and "third-party" in note["reason"]
        assert note["at"] == "2026-03-25T10:00:00+00:00"
        assert item["third_parties"] == {}
    assert b"Jo Bloggs" not in bundle.json_bytes
    assert b"official-of-DWP" not in bundle.json_bytes  # not even the pseudonym
    assert bundle.redactions == 3


def test_an_officer_may_disclose_one_official_with_a_reason_and_withhold_it_again() -> None:
    log = small_log()
    position = log.events[0].row.position
    disclose = RedactionDecision(
        position,
        "official",
        True,
        "officer-7f3a",
        "the official agreed",
        datetime(2026, 3, 24, tzinfo=UTC),
    )
    bundle = alex_bundle(log, [disclose])
    item = item_at(bundle.document, position)

    assert item["third_parties"] == {"official": "Jo Bloggs, work coach"}
    [note] = item["redactions"]
    assert note["disclosed"] and note["decided_by"] == "officer-7f3a"
    assert note["reason"] == "the official agreed"
    assert bundle.redactions == 2
    assert verify_bundle(json.loads(bundle.json_bytes), KEY).ok

    later = RedactionDecision(
        position,
        "official",
        False,
        "officer-9c1d",
        "disclosed by mistake",
        datetime(2026, 3, 25, tzinfo=UTC),
    )
    again = alex_bundle(log, [later, disclose])  # the latest decision wins
    assert b"Jo Bloggs" not in again.json_bytes
    assert item_at(again.document, position)["redactions"][0]["decided_by"] == "officer-9c1d"


def test_a_decision_about_an_item_the_bundle_does_not_hold_is_refused() -> None:
    log = small_log()
    sams = log.events[1].row.position
    decision = RedactionDecision(
        sams, "official", True, "officer-7f3a", "because", datetime(2026, 3, 24, tzinfo=UTC)
    )
    with pytest.raises(InvalidDecision, match=f"position {sams}"):
        alex_bundle(log, [decision])
    without_reason = RedactionDecision(
        log.events[0].row.position,
        "official",
        True,
        "officer-7f3a",
        " ",
        datetime(2026, 3, 24, tzinfo=UTC),
    )
    with pytest.raises(InvalidDecision, match="why"):
        alex_bundle(log, [without_reason])


def test_a_changed_sentence_is_named_with_its_position() -> None:
    document = fresh()
    item = document["items"][1]
    item["sentence"] = "Nothing happened."

    assert problems(document) == [
        f"item at ledger position {item['position']} (copy item 2): "
        "'sentence' is not what the ledger signed"
    ]


def test_a_changed_date_is_named_and_contradicts_the_event() -> None:
    document = fresh()
    item = document["items"][0]
    item["occurred_at"] = "2026-01-01T00:00:00+00:00"

    found = problems(document)
    assert (
        f"item at ledger position {item['position']} (copy item 1): 'occurred_at' is not "
        "what the ledger signed" in found
    )
    assert any("is not the event's time" in p for p in found)


def test_a_removed_item_is_named() -> None:
    document = fresh()
    gone = document["items"].pop(2)

    found = problems(document)
    assert found[0] == (
        f"manifest lists ledger position {gone['position']}, but the copy has no such item "
        "(an item was removed)"
    )
    # and what the sections list no longer adds up
    assert found[1].startswith("section 2 (copy) does not agree with the items: it lists")


def test_an_added_item_is_named() -> None:
    document = fresh()
    extra = copy.deepcopy(document["items"][0])
    extra["position"] = 999
    document["items"].append(extra)

    found = problems(document)
    assert any("item at ledger position 999" in p and "not in the manifest" in p for p in found)


def test_a_changed_manifest_breaks_its_signature() -> None:
    document = fresh()
    document["manifest"]["entries"][0]["fields"]["sentence"] = document["manifest"]["entries"][1][
        "fields"
    ]["sentence"]

    found = problems(document)
    assert found[0].startswith("signature: the manifest's signature is not valid")
    assert any("'sentence' is not what the ledger signed" in p for p in found)


def test_a_changed_signature_is_refused() -> None:
    document = fresh()
    raw = bytearray(base64.b64decode(document["signature"]["value"]))
    raw[0] ^= 1
    document["signature"]["value"] = base64.b64encode(bytes(raw)).decode()

    assert problems(document) == [
        "signature: the manifest's signature is not valid for the log's key "
        f"{KEY.verifier_key} (the manifest was changed, or signed by another key)"
    ]


def test_a_changed_proof_node_is_named_with_its_leaf() -> None:
    document = fresh()
    entry = document["manifest"]["entries"][2]
    node = bytearray(base64.b64decode(entry["inclusion_path"][0]))
    node[5] ^= 0x40
    entry["inclusion_path"][0] = base64.b64encode(bytes(node)).decode()

    found = problems(document)
    assert found[0].startswith("signature:")
    assert any(
        f"ledger position {entry['position']}" in p
        and f"(leaf {entry['leaf_index']}): inclusion proof refused" in p
        for p in found
    )


def test_a_changed_disclosable_form_is_named() -> None:
    document = fresh()
    item = document["items"][0]
    event = json.loads(base64.b64decode(item["disclosable"]))
    event["role"] = "Someone else"
    item["disclosable"] = base64.b64encode(json.dumps(event).encode()).decode()

    found = problems(document)
    assert any("its disclosable form is not the one the manifest lists" in p for p in found)
    assert any("its disclosable form is not the one the leaf commits to" in p for p in found)


def test_an_opening_for_someone_else_is_refused() -> None:
    document = fresh()
    item = document["items"][0]
    item["openings"][0]["value"] = "someone-else"

    found = problems(document)
    assert any("'openings' is not what the ledger signed" in p for p in found)
    assert any("does not open its commitment" in p for p in found)


def test_a_changed_section_is_named() -> None:
    document = fresh()
    document["sections"][2]["entries"].pop()

    found = problems(document)
    assert "section 3 (purposes) is not what the ledger signed" in found
    assert any(p.startswith("section 3 (purposes) does not agree with the items") for p in found)


def test_a_tree_head_signed_by_another_key_is_refused() -> None:
    document = fresh()
    head = document["manifest"]["tree_head"]
    head["root_hash"] = base64.b64encode(bytes(32)).decode()

    found = problems(document)
    assert found[0].startswith("tree head: the signature on the tree head of size 7")
    assert any("no valid signed tree head to prove it against" in p for p in found)


def test_an_unsigned_member_added_at_the_top_is_named() -> None:
    document = fresh()
    document["note"] = "added later"

    assert problems(document) == ["'note' is not part of a bundle: nothing signed it"]


def test_a_document_that_is_no_bundle_is_malformed() -> None:
    with pytest.raises(MalformedBundle):
        verify_bundle({"kind": "inclusion-proof"}, KEY)
    with pytest.raises(MalformedBundle):
        verify_bundle([1, 2], KEY)


def test_hostile_shapes_are_problems_not_crashes() -> None:
    document = fresh()
    document["items"][0] = {"position": True}
    document["items"][1]["openings"] = [{"pointer": 7, "salt": "zz"}, "x"]
    document["items"][2]["leaf_index"] = "three"
    document["manifest"]["entries"][3] = None
    document["sections"][4] = {"key": ["nested"], "entries": [{"x": float("nan")}]}

    found = problems(document)
    assert any("copy item 1: 'position' is missing or not an int" in p for p in found)
    assert any("'leaf_index' is missing or not a int" in p for p in found)


def test_a_manifest_signature_never_passes_for_a_tree_head_signature() -> None:
    bundle = alex_bundle()
    signature = base64.b64decode(bundle.document["signature"]["value"])
    head = SignedTreeHead.from_json(bundle.document["manifest"]["tree_head"]).head
    as_head = TreeHead(head.origin, head.tree_size, head.root_hash, head.timestamp_ms)

    with pytest.raises(BadTreeHead):
        KEY.verify(as_head, signature)
    with pytest.raises(ValueError, match="whitespace"):
        SIGNER.sign_document("two words", b"{}")


@pytest.mark.parametrize(
    "odd", [{"weight": 0.1}, {"count": 2**53 - 1}, {"\u00e9t\u00e9": "summer", "zz": "\U0001f600"}]
)
def test_details_that_are_not_plain_json_still_make_a_canonical_bundle(
    odd: dict[str, Any],
) -> None:
    log = small_log()
    items = [dataclasses.replace(i, detail={**i.detail, **odd}) for i in log.items(ALEX, "DWP")]
    bundle = build_bundle(
        controller=DWP,
        case=CASE,
        items=items,
        head=log.head,
        signer=SIGNER,
        names=NAMES,
        generated_at=datetime(2026, 3, 25, 10, 0, tzinfo=UTC),
    )

    assert bundle.json_bytes == canonical(bundle.document)
    assert verify_bundle(json.loads(bundle.json_bytes), KEY).ok


def test_a_number_json_canonical_form_cannot_hold_is_refused_by_name() -> None:
    log = small_log()
    items = [dataclasses.replace(i, detail={"count": 2**60}) for i in log.items(ALEX, "DWP")]
    with pytest.raises(ValueError, match=f"ledger position {items[0].position}"):
        build_bundle(
            controller=DWP,
            case=CASE,
            items=items,
            head=log.head,
            signer=SIGNER,
            names=NAMES,
            generated_at=datetime(2026, 3, 25, 10, 0, tzinfo=UTC),
        )
