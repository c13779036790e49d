"""Facts without state: data accessed and data shared, one aggregate per submission."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.catalogue.entry import (
    PREFIX,
    Change,
    EventType,
    Received,
    fact_change,
    sealed_text,
    subject_keys,
)
from ledger.catalogue.vocabulary import array, count, obj, ref, subjects, text, whole
from ledger.domain.access import DataAccess
from ledger.domain.sharing import MAX_SUBJECTS_PER_SHARE, DataShare
from ledger.keyring import Keyring

DATA_ACCESSED = PREFIX + "data-accessed.v1"
DATA_SHARED = PREFIX + "data-shared.v1"


def _data_accessed(received: Received, keyring: Keyring) -> Sequence[Change]:
    event, data = received.event, received.data
    accessor = data["accessor"]
    official = accessor.get("official")
    return (
        fact_change(
            DataAccess,
            DataAccess.Recorded,
            DataAccess.create_id(event["source"], event["id"]),
            source=event["source"],
            event_id=event["id"],
            occurred_at=received.occurred_at,
            subject_keys=subject_keys(data, keyring),
            organisation=accessor["organisation"],
            role=accessor["role"],
            official_key=keyring.pseudonymiser.opaque("official", official) if official else None,
            system=data["system"],
            record=data["record"],
            data_categories=data["data_categories"],
            purpose=data["purpose"],
            lawful_basis=data["lawful_basis"],
            action=data["action"],
            break_glass=bool(data.get("break_glass", False)),
            envelope_sha256=received.raw_sha256,
            envelope_sealed=sealed_text(received, keyring),
        ),
    )


def _data_shared(received: Received, keyring: Keyring) -> Sequence[Change]:
    event, data = received.event, received.data
    keys = subject_keys(data, keyring) if "subjects" in data else []
    manifest = data.get("manifest")
    return (
        fact_change(
            DataShare,
            DataShare.Recorded,
            DataShare.create_id(event["source"], event["id"]),
            source=event["source"],
            event_id=event["id"],
            occurred_at=received.occurred_at,
            reporter=data["reporter"],
            subject_keys=keys,
            subject_count=manifest["subject_count"] if manifest else len(keys),
            manifest_sha256=manifest["sha256"] if manifest else None,
            part=data.get("part"),
            sender=data["sender"],
            recipient=data["recipient"],
            purpose=data["purpose"],
            lawful_basis=data["lawful_basis"],
            legal_gateway=data.get("legal_gateway"),
            agreement=data["agreement"],
            data_categories=data["data_categories"],
            retention=data["retention"],
            international_transfer=data["international_transfer"],
            envelope_sha256=received.raw_sha256,
            envelope_sealed=sealed_text(received, keyring),
        ),
    )


def _share_party(data: dict[str, Any]) -> tuple[list[str], str]:
    side = "sender" if data["reporter"] == "sender" else "recipient"
    return [data[side]], f"/data/{side}"


ACCESSED = EventType(
    DATA_ACCESSED,
    "Data accessed (v1)",
    "An official of a public body accessed a citizen's record.",
    obj(
        [
            "subjects",
            "accessor",
            "system",
            "record",
            "data_categories",
            "purpose",
            "lawful_basis",
            "action",
        ],
        {
            "subjects": subjects(1),
            "accessor": obj(
                ["organisation", "role"],
                {
                    "organisation": ref("organisation"),
                    "role": text(120),
                    "official": text(
                        120, "Staff id of the official; third-party data, pseudonymised"
                    ),
                },
            ),
            "system": text(200),
            "record": text(200, "What was looked at, in words a citizen understands"),
            "data_categories": array(ref("category")),
            "purpose": ref("coded"),
            "lawful_basis": ref("lawful_basis"),
            "action": {"enum": ["viewed", "exported", "changed", "deleted"]},
            "break_glass": {"type": "boolean", "default": False},
        },
    ),
    _data_accessed,
    lambda data: ([data["accessor"]["organisation"]], "/data/accessor/organisation"),
)

_TRANSFER = obj(
    ["country", "safeguard"],
    {
        "country": {"type": "string", "pattern": whole("[A-Z]{2}"), "description": "ISO 3166-1"},
        "recipient": text(200, "International organisation or body abroad, if any"),
        "safeguard": {
            "enum": [
                "adequacy",
                "idta",
                "addendum-to-eu-sccs",
                "binding-corporate-rules",
                "derogation",
            ],
            "description": "UK GDPR Chapter V safeguard",
        },
    },
)

SHARED = EventType(
    DATA_SHARED,
    "Data shared (v1)",
    "One organisation passed data about one or more citizens to another. A bulk share "
    f"lists at most {MAX_SUBJECTS_PER_SHARE} subjects per event: split larger shares "
    "into parts (part), or send only the SHA-256 of the subject list and its count "
    "(manifest).",
    {
        **obj(
            [
                "reporter",
                "sender",
                "recipient",
                "purpose",
                "lawful_basis",
                "agreement",
                "data_categories",
                "retention",
                "international_transfer",
            ],
            {
                "reporter": {
                    "enum": ["sender", "recipient"],
                    "description": "Which party reports this share",
                },
                "sender": ref("organisation"),
                "recipient": ref("organisation"),
                "subjects": subjects(MAX_SUBJECTS_PER_SHARE),
                "part": obj(
                    ["share", "index", "count"],
                    {
                        "share": ref("reference"),
                        "index": count(1),
                        "count": count(1),
                    },
                    "Which part of a split bulk share this event is",
                ),
                "manifest": obj(
                    ["sha256", "subject_count"],
                    {"sha256": ref("sha256"), "subject_count": count(1)},
                    "SHA-256 of the subject list (one scheme:value per line, sorted, "
                    "UTF-8) when the subjects are not listed",
                ),
                "purpose": ref("coded"),
                "lawful_basis": ref("lawful_basis"),
                "legal_gateway": ref("coded"),
                "agreement": {
                    "anyOf": [ref("reference"), {"type": "null"}],
                    "description": "The data sharing agreement relied on; null if none",
                },
                "data_categories": array(ref("category")),
                "retention": ref("retention"),
                "international_transfer": {"anyOf": [_TRANSFER, {"type": "null"}]},
            },
        ),
        "oneOf": [{"required": ["subjects"]}, {"required": ["manifest"]}],
    },
    _data_shared,
    _share_party,
)

TYPES = (ACCESSED, SHARED)
