"""The shared parts of every event's JSON Schema: the signed envelope and the vocabulary.

Each published schema (``ledger/schemas/<type>.json``) is self-contained: the envelope,
the type's ``data`` and these definitions, so a service in any language can validate
with one file and no resolver.
"""

from __future__ import annotations

from typing import Any

from ledger.subjects import ORGANISATION_CODE, SPELLINGS


def whole(pattern: str) -> str:
    """``pattern`` matched against the whole string, alike in ECMA-262 (JSON Schema's
    regular expressions) and in Python's ``re.search`` (jsonschema's): there ``$`` also
    matches before a final newline, so the end is ``$`` not followed by one."""
    return f"^(?:{pattern})$(?!\\n)"


ORG_CODE = whole(ORGANISATION_CODE)
CODE = whole("[a-z0-9][a-z0-9._-]{0,63}")
SHA256 = whole("[0-9a-f]{64}")


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def text(max_length: int = 300, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_length}
    if description:
        schema["description"] = description
    return schema


# Views keep counts in PostgreSQL integer columns and add them up in bigint ones. An
# unbounded count (or 1e300, which JSON Schema takes for an integer) would be recorded
# and then stop every view that stores it.
MAX_COUNT = 2**31 - 1


def count(minimum: int, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum, "maximum": MAX_COUNT}
    if description:
        schema["description"] = description
    return schema


def obj(required: list[str], properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A closed object: unknown members are refused, so nothing unvalidated is stored."""
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


def array(items: dict[str, Any], min_items: int = 1, max_items: int = 50) -> dict[str, Any]:
    return {"type": "array", "minItems": min_items, "maxItems": max_items, "items": items}


def subjects(max_items: int) -> dict[str, Any]:
    schema = array(ref("subject"), 1, max_items)
    schema["description"] = (
        "Typed identifiers of the citizens concerned; pseudonymised by the ledger"
    )
    return schema


# What each scheme's value may be, and its canonical form (``ledger.subjects`` has the
# rules; the ledger pseudonymises the canonical form, so every spelling is one person).
_SUBJECT_VALUE = {
    "nhs-number": "10 digits, together or grouped 3-3-4 by one space or hyphen, passing the "
    "modulus 11 check; the ledger keeps the 10 digits (943 476 5919 is 9434765919)",
    "nino": "2 letters, 6 digits and A, B, C or D, in either case, with at most one space "
    "between the groups, and a prefix HMRC issues; the ledger keeps it upper case without "
    "spaces (ab 12 34 56 c is AB123456C)",
    "one-login": "The GOV.UK One Login subject (urn:fdc:gov.uk:2022: and 10-200 letters, "
    "digits, _ or -), exactly as One Login issues it",
    "local": "The issuing organisation's registered code (upper case), a colon and the "
    "reference, exactly as issued (its case matters)",
}

DEFS: dict[str, Any] = {
    "organisation": {
        "type": "string",
        "pattern": ORG_CODE,
        "description": "Short code of a registered organisation, e.g. DWP",
    },
    "subject": {
        **obj(
            ["scheme", "value"],
            {"scheme": {"enum": list(SPELLINGS)}, "value": {"type": "string"}},
            "A citizen's identifier, e.g. nhs-number 9434765919, nino AB123456C, local "
            "LEEDS:CT-0001. ASCII only: no other digits, letters or whitespace than shown",
        ),
        "allOf": [
            {
                "if": {"properties": {"scheme": {"const": scheme}}},
                "then": {
                    "properties": {
                        "value": {"pattern": whole(pattern), "description": _SUBJECT_VALUE[scheme]}
                    }
                },
            }
            for scheme, pattern in SPELLINGS.items()
        ],
    },
    "coded": obj(
        ["code", "text"],
        {
            "code": {"type": "string", "pattern": CODE},
            "text": text(300, "Plain English shown to the citizen"),
        },
    ),
    "category": obj(
        ["code", "text"],
        {
            "code": {"type": "string", "pattern": CODE},
            "text": text(300, "Plain English shown to the citizen"),
            "special_category": {
                "type": "boolean",
                "description": "Special category data (UK GDPR Art. 9) or criminal offence data",
            },
        },
    ),
    "lawful_basis": obj(
        ["article6"],
        {
            "article6": {
                "enum": [
                    "consent",
                    "contract",
                    "legal-obligation",
                    "vital-interests",
                    "public-task",
                    "legitimate-interests",
                ]
            },
            "article9": {
                "type": ["string", "null"],
                "pattern": CODE,
                "description": "Art. 9(2) condition (with DPA 2018 Sch. 1 where relevant) "
                "for special category data, e.g. health-care; null if none",
            },
        },
    ),
    "retention": obj(
        ["text"],
        {
            "period": {
                "type": "string",
                "pattern": whole(r"P(?!$)([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?"),
                "description": "ISO 8601 duration, when the period is fixed",
            },
            "text": text(300, "The period, or the criteria that set it, in plain English"),
        },
    ),
    "sha256": {"type": "string", "pattern": SHA256, "description": "SHA-256, lower-case hex"},
    "reference": {
        "type": "string",
        "pattern": whole("[A-Za-z0-9][A-Za-z0-9._/-]{0,79}"),
        "description": "A reference chosen by the organisation (no personal data)",
    },
    "instant": {"type": "string", "format": "date-time"},
    "day": {"type": "string", "format": "date"},
}


def envelope(type_name: str, title: str, description: str, data: dict[str, Any]) -> dict[str, Any]:
    """The full, self-contained schema of one type: signed CloudEvent + ``data``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:ledger:schema:{type_name}",
        "title": title,
        "description": description + " Signed CloudEvent 1.0 in structured JSON mode: the "
        "signature is Ed25519 over the RFC 8785 canonical JSON of the event without "
        "its signature attribute.",
        "type": "object",
        "additionalProperties": False,
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "signingkey",
            "signature",
            "data",
        ],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {
                "type": "string",
                "pattern": whole("[\\x21-\\x7e]{1,128}"),
                "description": "Unique per source; (source, id) is the idempotency key",
            },
            "source": {
                "type": "string",
                "pattern": whole("[\\x21-\\x7e]{1,256}"),
                "description": "The registered emitting service, e.g. urn:ledger:service:dwp:uc",
            },
            "type": {"const": type_name},
            "time": {
                "type": "string",
                "format": "date-time",
                "description": "When it happened (RFC 3339, with offset)",
            },
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"type": "string", "maxLength": 256},
            "traceparent": {"type": "string", "maxLength": 128},
            "tracestate": {"type": "string", "maxLength": 512},
            "signingkey": {
                "type": "string",
                "pattern": whole("ed25519:[0-9a-f]{32}"),
                "description": "Key id: ed25519: + first 32 hex of SHA-256(public key)",
            },
            "signature": {
                "type": "string",
                "pattern": whole("[A-Za-z0-9_-]{86}"),
                "description": "Ed25519 signature, base64url without padding",
            },
            "data": data,
        },
        "$defs": DEFS,
    }
