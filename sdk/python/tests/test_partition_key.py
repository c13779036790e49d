"""Events of one aggregate share a Kafka record key, and the key reveals no identifier."""

from __future__ import annotations

import hashlib
from typing import Any

from ledger_emitter import partition_key
from ledger_emitter.ordering import ordering_text

PREFIX = "uk.gov.ledger."
NHS = {"scheme": "nhs-number", "value": "9434765919"}
NINO = {"scheme": "nino", "value": "AB123456C"}
CASE = {"organisation": "DWP", "reference": "SAR-2026-0042"}


def event(stem: str, data: dict[str, Any], event_id: str = "e-1") -> dict[str, Any]:
    return {"id": event_id, "type": PREFIX + stem, "data": data}


def test_one_citizens_consent_events_share_a_key_whatever_else_they_say() -> None:
    given = event("consent-given.v1", {"subjects": [NHS, NINO], "purposes": ["a"]}, "e-1")
    withdrawn = event("consent-withdrawn.v1", {"subjects": [NHS], "purposes": ["b"]}, "e-2")
    objection = event("objection-set.v1", {"subjects": [NHS]}, "e-3")

    assert partition_key(given) == partition_key(withdrawn) == partition_key(objection)
    assert ordering_text(given) == "nhs-number:9434765919"


def test_the_key_is_16_bits_of_sha256_of_the_ordering_text_too_few_to_name_anyone() -> None:
    key = partition_key(event("data-accessed.v1", {"subjects": [NHS]}))
    assert key == hashlib.sha256(b"nhs-number:9434765919").hexdigest()[:4].encode()


def test_a_subject_access_request_is_ordered_by_its_case() -> None:
    received = event("sar-received.v1", {"case": CASE, "subjects": [NINO]}, "e-1")
    closed = event("sar-closed.v1", {"case": CASE}, "e-2")
    other = event("sar-closed.v1", {"case": {**CASE, "reference": "SAR-2026-0043"}}, "e-3")

    assert partition_key(received) == partition_key(closed) != partition_key(other)
    assert ordering_text(closed) == "sar:DWP:SAR-2026-0042"


def test_a_services_registration_and_its_keys_share_a_key() -> None:
    source = "urn:ledger:service:dwp:uc"
    registered = event("service-registered.v1", {"service": {"source": source}}, "e-1")
    rotated = event("key-rotated.v1", {"service": source}, "e-2")
    assert partition_key(registered) == partition_key(rotated)


def test_an_agreement_is_ordered_by_its_reference_from_registration_to_end() -> None:
    registered = event("agreement-registered.v1", {"agreement": {"reference": "DSA-1"}}, "e-1")
    ended = event("agreement-ended.v1", {"reference": "DSA-1"}, "e-2")
    assert partition_key(registered) == partition_key(ended)
    assert ordering_text(ended) == "agreement:DSA-1"


def test_a_bulk_share_sent_as_a_manifest_is_ordered_by_its_sender_and_manifest() -> None:
    manifest = {"sha256": "ab" * 32, "subject_count": 5000}
    share = event("data-shared.v1", {"sender": "DWP", "manifest": manifest})
    assert ordering_text(share) == "share:DWP:" + "ab" * 32


def test_an_unknown_type_or_a_malformed_event_is_keyed_by_its_id() -> None:
    assert ordering_text(event("mood-changed.v1", {"subjects": [NHS]}, "e-9")) == "e-9"
    assert ordering_text(event("consent-given.v1", {"subjects": []}, "e-9")) == "e-9"
    assert ordering_text(event("consent-given.v1", {"subjects": [{"scheme": 1}]}, "e-9")) == "e-9"
    assert ordering_text({"id": "e-9"}) == "e-9"
