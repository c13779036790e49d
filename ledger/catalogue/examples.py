"""The worked examples of the contract: one story that uses every event type, in order.

Published, signed with the public *test* key, under ``docs/contract/examples/``. They
are realistic but fictional; the identifiers are the standard test values (NHS number
943 476 5919, NINO AB 12 34 56 C), never real people.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger_emitter import SigningKey, b64url

from ledger.catalogue import CATALOGUE, PREFIX

EXAMPLE_SOURCE = "urn:ledger:service:dwp:example-case-system"
EXAMPLE_ORGANISATION = "DWP"
UC_SOURCE = "urn:ledger:service:dwp:uc-case-system"
STORY_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def published_test_key(label: str = "") -> SigningKey:
    """A PUBLISHED TEST KEY: anyone can sign with it. Never register it in production."""
    return SigningKey(hashlib.sha256(f"ledger contract test key{label}".encode()).digest())


NHS = {"scheme": "nhs-number", "value": "9434765919"}
NINO = {"scheme": "nino", "value": "AB123456C"}
ONE_LOGIN = {"scheme": "one-login", "value": "urn:fdc:gov.uk:2022:example-citizen-0001"}
LOCAL = {"scheme": "local", "value": "LEEDS:CT-0001"}


def _coded(code: str, text: str) -> dict[str, str]:
    return {"code": code, "text": text}


CASE = {"organisation": "DWP", "reference": "SAR-2026-0042"}
SECOND_CASE = {"organisation": "DWP", "reference": "SAR-2026-0043"}
AGREEMENT = "DSA-DWP-HMRC-2026-001"
NOTICE = {"version": "3.1", "sha256": hashlib.sha256(b"example privacy notice v3.1").hexdigest()}
TERMS = {
    "title": "Earnings data for Universal Credit",
    "parties": [
        {"organisation": "DWP", "role": "controller"},
        {"organisation": "HMRC", "role": "controller"},
    ],
    "purposes": [_coded("uc-earnings", "to check earnings for Universal Credit")],
    "legal_gateway": _coded("wra-2012-s131", "Welfare Reform Act 2012, section 131"),
    "lawful_basis": {"article6": "public-task", "article9": None},
    "data_categories": [_coded("income", "your income")],
    "starts_on": "2026-11-01",
    "ends_on": None,
    "retention": {"period": "P6Y", "text": "six years after the claim ends"},
    "rights_contact": "DWP data protection officer",
    "review_on": "2027-11-01",
}
CONSENT_PURPOSES = [
    _coded("research-survey", "to invite you to research about our services"),
    _coded("service-updates", "to send you updates about your claim by text message"),
]
SHARE = {
    "reporter": "sender",
    "sender": "DWP",
    "recipient": "HMRC",
    "subjects": [NINO, LOCAL],
    "purpose": _coded("uc-earnings", "to check earnings for Universal Credit"),
    "lawful_basis": {"article6": "public-task", "article9": None},
    "legal_gateway": _coded("wra-2012-s131", "Welfare Reform Act 2012, section 131"),
    "agreement": AGREEMENT,
    "data_categories": [_coded("income", "your income")],
    "retention": {"period": "P6Y", "text": "six years after the claim ends"},
    "international_transfer": None,
}
ACCESS = {
    "subjects": [NHS],
    "accessor": {"organisation": "DWP", "role": "Work coach", "official": "staff-0042"},
    "system": "Universal Credit case system",
    "record": "benefit claim",
    "data_categories": [_coded("benefits", "your benefit claim details")],
    "purpose": _coded("uc-claim", "to process your Universal Credit application"),
    "lawful_basis": {"article6": "public-task", "article9": None},
    "action": "viewed",
    "break_glass": False,
}

# (file label, type stem, data); the file is <type stem>.json, or <stem>--<label>.json.
STORY: list[tuple[str, str, dict[str, Any]]] = [
    (
        "",
        "organisation-registered.v1",
        {
            "organisation": {
                "code": "HMRC",
                "name": "HM Revenue and Customs",
                "nation": "england-and-wales",
            }
        },
    ),
    (
        "",
        "service-registered.v1",
        {
            "service": {
                "source": UC_SOURCE,
                "organisation": "DWP",
                "name": "Universal Credit case system",
                "event_types": [PREFIX + "data-accessed.v1", PREFIX + "data-shared.v1"],
            }
        },
    ),
    (
        "",
        "key-registered.v1",
        {"service": UC_SOURCE, "public_key": b64url(published_test_key(" 2").public_key)},
    ),
    (
        "",
        "key-rotated.v1",
        {
            "service": UC_SOURCE,
            "old_key_id": published_test_key(" 2").key_id,
            "public_key": b64url(published_test_key(" 3").public_key),
        },
    ),
    (
        "",
        "key-revoked.v1",
        {
            "service": UC_SOURCE,
            "key_id": published_test_key(" 3").key_id,
            "reason": "the device holding the key was lost",
        },
    ),
    ("", "agreement-registered.v1", {"agreement": {"reference": AGREEMENT, **TERMS}}),
    (
        "",
        "agreement-amended.v1",
        {
            "reference": AGREEMENT,
            "changes": {"review_on": "2027-05-01"},
            "reason": "earlier review agreed by both parties",
        },
    ),
    ("", "data-shared.v1", SHARE),
    ("", "data-accessed.v1", ACCESS),
    (
        "",
        "consent-given.v1",
        {
            "subjects": [ONE_LOGIN],
            "controller": "DWP",
            "purposes": CONSENT_PURPOSES,
            "data_categories": [_coded("contact-details", "your contact details")],
            "lawful_basis": {"article6": "consent", "article9": None},
            "collection": {"method": "online", "notice": NOTICE},
            "expires_at": "2027-11-02T09:00:00Z",
        },
    ),
    (
        "",
        "consent-withdrawn.v1",
        {"subjects": [ONE_LOGIN], "controller": "DWP", "purposes": CONSENT_PURPOSES[:1]},
    ),
    (
        "",
        "consent-expired.v1",
        {"subjects": [ONE_LOGIN], "controller": "DWP", "purposes": CONSENT_PURPOSES[1:]},
    ),
    (
        "",
        "consent-renewed.v1",
        {
            "subjects": [ONE_LOGIN],
            "controller": "DWP",
            "purposes": CONSENT_PURPOSES[1:],
            "collection": {"method": "app", "notice": NOTICE},
            "expires_at": "2028-11-02T09:00:00Z",
        },
    ),
    (
        "",
        "objection-set.v1",
        {
            "subjects": [NINO],
            "controller": None,
            "kind": "opt-out",
            "purposes": [_coded("research", "research and planning")],
        },
    ),
    (
        "",
        "objection-lifted.v1",
        {
            "subjects": [NINO],
            "controller": None,
            "purposes": [_coded("research", "research and planning")],
        },
    ),
    (
        "",
        "sar-received.v1",
        {
            "case": CASE,
            "subjects": [NINO],
            "channel": "online",
            "requester": "subject",
            "identity_required": True,
        },
    ),
    (
        "",
        "sar-identity-verified.v1",
        {"case": CASE, "method": _coded("one-login", "GOV.UK One Login identity check")},
    ),
    ("", "sar-clarification-requested.v1", {"case": CASE, "officer": "DWP-DSAR-0007"}),
    ("", "sar-clarification-received.v1", {"case": CASE, "officer": "DWP-DSAR-0007"}),
    (
        "",
        "sar-redaction-decided.v1",
        {
            "case": CASE,
            "officer": "DWP-DSAR-0007",
            "item": {"position": 1, "field": "official"},
            "disclose": True,
            "reason": "the official acted in a public role and agreed to be named",
        },
    ),
    (
        "",
        "sar-extended.v1",
        {
            "case": CASE,
            "months": 1,
            "reason": "records are held in several systems",
            "requester_told_at": "2026-11-02T10:30:00Z",
        },
    ),
    (
        "",
        "sar-responded.v1",
        {
            "case": CASE,
            "response": {
                "bundle_sha256": hashlib.sha256(b"example response bundle").hexdigest(),
                "channel": "portal",
                "records": 42,
                "redactions": 3,
            },
        },
    ),
    ("", "sar-closed.v1", {"case": CASE}),
    (
        "second-request",
        "sar-received.v1",
        {
            "case": SECOND_CASE,
            "subjects": [NINO],
            "channel": "email",
            "requester": "subject",
            "identity_required": False,
        },
    ),
    (
        "",
        "sar-refused.v1",
        {
            "case": SECOND_CASE,
            "refusal": {
                "grounds": "manifestly-excessive",
                "reason": "the same request was answered in full last week",
                "complaint_rights_given": True,
            },
        },
    ),
    (
        "",
        "query-raised.v1",
        {
            "query": {"organisation": "DWP", "reference": "Q-2026-0007"},
            "subjects": [NINO],
            "about": {"position": 1},
            "concern": "dont-recognise-reason",
        },
    ),
    (
        "",
        "query-answered.v1",
        {
            "query": {"organisation": "DWP", "reference": "Q-2026-0007"},
            "officer": "DWP-DSAR-0007",
            "explanation": "Our benefits team checked your claim because you reported a "
            "change of address on 2 March.",
        },
    ),
    ("", "agreement-ended.v1", {"reference": AGREEMENT, "reason": "replaced by a new agreement"}),
]


def file_name(label: str, stem: str) -> str:
    return f"{stem}--{label}.json" if label else f"{stem}.json"


def signed_story() -> list[tuple[str, dict[str, Any]]]:
    """(file name, signed event) for the whole story, in the order to send it."""
    key = published_test_key()
    story = []
    for step, (label, stem, data) in enumerate(STORY):
        event = {
            "specversion": "1.0",
            "id": f"example-{step + 1:03d}",
            "source": EXAMPLE_SOURCE,
            "type": PREFIX + stem,
            "time": (STORY_START + timedelta(minutes=5 * step)).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": data,
        }
        story.append((file_name(label, stem), key.sign(event)))
    assert {e["type"] for _, e in story} == set(CATALOGUE), "every type has an example"
    return story
