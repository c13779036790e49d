"""The published contract: schemas, AsyncAPI and worked examples, kept equal to the code."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import jsonschema
import pytest
from ledger_emitter import ORDERING, partition_key

from ledger import signing
from ledger.catalogue import CATALOGUE, event_type, validator
from ledger.catalogue.examples import published_test_key, signed_story
from ledger.catalogue.publish import CONTRACT, rendered
from ledger.refusals import Reason, Refusal

EXAMPLES = CONTRACT / "examples"


def test_the_committed_contract_is_what_the_catalogue_generates() -> None:
    # Regenerate with: python -m ledger.catalogue.publish
    stale = [
        str(path)
        for path, text in rendered().items()
        if not path.exists() or path.read_text() != text
    ]
    assert stale == []


def test_the_catalogue_has_every_type_of_the_domain() -> None:
    stems = {kind.stem for kind in CATALOGUE.values()}
    assert stems == {
        "data-shared.v1",
        "data-accessed.v1",
        "consent-given.v1",
        "consent-withdrawn.v1",
        "consent-expired.v1",
        "consent-renewed.v1",
        "objection-set.v1",
        "objection-lifted.v1",
        "sar-received.v1",
        "sar-identity-verified.v1",
        "sar-clarification-requested.v1",
        "sar-clarification-received.v1",
        "sar-extended.v1",
        "sar-responded.v1",
        "sar-refused.v1",
        "sar-closed.v1",
        "organisation-registered.v1",
        "service-registered.v1",
        "key-registered.v1",
        "key-rotated.v1",
        "key-revoked.v1",
        "agreement-registered.v1",
        "agreement-amended.v1",
        "agreement-ended.v1",
        "sar-redaction-decided.v1",
        "query-raised.v1",
        "query-answered.v1",
    }


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_schema_is_valid_json_schema_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(validator(name).schema)


def test_every_published_example_matches_its_schema_and_verifies_with_the_test_key() -> None:
    key = published_test_key()
    order = json.loads((EXAMPLES / "index.json").read_text())["order"]
    assert {json.loads((EXAMPLES / n).read_text())["type"] for n in order} == set(CATALOGUE)
    for name in order:
        event = signing.parse_json((EXAMPLES / name).read_bytes())
        assert list(validator(event["type"]).iter_errors(event)) == [], name
        assert signing.verify(event, key.public_key), name


def test_the_test_key_is_published_and_says_so() -> None:
    published = json.loads((EXAMPLES / "test-key.json").read_text())
    assert "TEST KEY" in published["warning"]
    assert published["key_id"] == published_test_key().key_id


def test_the_asyncapi_document_describes_the_three_topics() -> None:
    document = json.loads((CONTRACT / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {"ledger.submissions", "ledger.rejected", "ledger.events"}
    assert len(document["channels"]["submissions"]["messages"]) == len(CATALOGUE)
    headers = document["components"]["messages"]["rejected"]["headers"]["properties"]
    assert set(headers["ledger-reason"]["enum"]) == {str(r) for r in Reason}
    for message in document["components"]["messages"].values():
        schema_ref = message["payload"].get("schema", {}).get("$ref")
        if schema_ref:
            assert (CONTRACT / schema_ref).resolve().exists()


def test_an_unknown_version_of_a_known_type_is_told_apart_from_an_unknown_type() -> None:
    with pytest.raises(Refusal) as version:
        event_type("uk.gov.ledger.consent-given.v9")
    with pytest.raises(Refusal) as kind:
        event_type("uk.gov.ledger.mood-changed.v1")
    assert version.value.reason == Reason.UNKNOWN_VERSION
    assert kind.value.reason == Reason.UNKNOWN_TYPE


def test_every_type_of_the_catalogue_has_its_ordering_rule_in_the_sdk() -> None:
    assert set(ORDERING) == set(CATALOGUE)


def test_events_of_one_aggregate_share_a_record_key_that_reveals_no_identifier() -> None:
    story = dict(signed_story())
    keys = {name: partition_key(event) for name, event in story.items()}
    assert keys["consent-given.v1.json"] == keys["consent-withdrawn.v1.json"]
    assert keys["sar-received.v1.json"] == keys["sar-closed.v1.json"]
    assert keys["service-registered.v1.json"] == keys["key-revoked.v1.json"]
    assert keys["agreement-registered.v1.json"] == keys["agreement-ended.v1.json"]
    assert keys["sar-received.v1.json"] != keys["sar-received.v1--second-request.json"]
    assert all(len(key) == 4 for key in keys.values())


def key_from_the_contract(document: dict[str, Any], event: dict[str, Any]) -> bytes:
    """The record key as a service in another language derives it, from the AsyncAPI
    document alone: the first template whose pointers all name strings, hashed."""
    (message,) = [
        m for m in document["components"]["messages"].values() if m["name"] == event["type"]
    ]
    for template in message["bindings"]["kafka"]["key"]["x-ordering-text"]:
        pieces = re.split(r"\{(/[^}]*)\}", template)  # text, pointer, text, ...
        pieces[1::2] = [resolve(event, pointer) for pointer in pieces[1::2]]
        if all(isinstance(piece, str) for piece in pieces):
            text = "".join(pieces)
            break
    else:
        text = event["id"]
    return hashlib.sha256(text.encode()).hexdigest()[:4].encode()


def resolve(document: Any, pointer: str) -> Any:
    """What a JSON pointer names in ``document``; None if nothing."""
    for token in pointer.split("/")[1:]:
        try:
            document = document[int(token) if isinstance(document, list) else token]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    return document


def test_the_record_key_the_contract_publishes_is_the_one_the_sdk_computes() -> None:
    document = json.loads((CONTRACT / "asyncapi.json").read_text())
    order = json.loads((EXAMPLES / "index.json").read_text())["order"]
    events = [json.loads((EXAMPLES / name).read_text()) for name in order]
    share = dict(signed_story())["data-shared.v1.json"]
    listed = {k: v for k, v in share["data"].items() if k != "subjects"}
    bulk = {**share, "data": {**listed, "manifest": {"sha256": "ab" * 32, "subject_count": 5000}}}
    for event in [*events, bulk]:
        assert key_from_the_contract(document, event) == partition_key(event), event["type"]
