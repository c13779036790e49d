"""The AsyncAPI 3 document of the ledger's topics, generated from the catalogue."""

from __future__ import annotations

from typing import Any

from ledger_emitter import ORDERING

from ledger.catalogue import CATALOGUE, EventType
from ledger.refusals import Reason

CONTENT_TYPE = "application/cloudevents+json"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
RECORD_KEY_RULE = (
    "First 4 hex digits of SHA-256 of the ordering text (UTF-8): the first template of "
    "x-ordering-text whose {JSON pointer}s all name strings in the event, each replaced "
    "by its string; the event's id when none does. Events of one aggregate share a key "
    "and so keep their order; 16 bits reveal no identifier."
)


def _record_key(kind: EventType) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": "^[0-9a-f]{4}$",
        "description": RECORD_KEY_RULE,
        "x-ordering-text": list(ORDERING[kind.name]),
    }


def _header(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


REJECTED_HEADERS = {
    "type": "object",
    "required": ["ledger-reason", "ledger-detail", "ledger-pointer", "ledger-stage"],
    "properties": {
        "ledger-refusal-id": _header("Id of the stored refusal"),
        "ledger-reason": {"enum": [str(r) for r in Reason], "description": "Stable reason code"},
        "ledger-detail": _header("What was wrong, without personal data"),
        "ledger-pointer": _header("JSON pointer to the offending member, or empty"),
        "ledger-stage": _header("Where it was refused: intake"),
        "ledger-channel": {"enum": ["kafka", "http", "direct"]},
        "ledger-source-topic": _header("Topic the submission came from (kafka only)"),
        "ledger-source-partition": _header("Its partition (kafka only)"),
        "ledger-source-offset": _header("Its offset (kafka only)"),
        "ledger-source-incarnation": _header(
            "The source topic's incarnation (its topic id, or the ledger's epoch for it): "
            "offsets of a topic created anew start again at 0 (kafka only)"
        ),
        "ledger-truncated-from": _header(
            "Present when the payload is only the first bytes of the submission: its "
            "whole size in bytes (oversized submissions keep their first 4,096 bytes)"
        ),
        "ledger-received-sha256": _header(
            "SHA-256 (hex) of the bytes received (of those kept, when truncated): a sender "
            "finds its own submission by it"
        ),
        "ledger-sealed": _header(
            "How the payload is sealed: 'xsalsa20poly1305; key=ledger-seal' (a 24-byte "
            "nonce, then the box under the ledger's sealing key: only the operator opens it)"
        ),
    },
}


def _message(kind: EventType, example: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": kind.name,
        "title": kind.title,
        "summary": kind.description,
        "contentType": CONTENT_TYPE,
        "payload": {
            "schemaFormat": SCHEMA_FORMAT,
            "schema": {"$ref": f"../../ledger/schemas/{kind.schema_file}"},
        },
        "bindings": {"kafka": {"key": _record_key(kind), "bindingVersion": "0.5.0"}},
    }
    if example is not None:
        message["examples"] = [{"name": f"{kind.stem} example", "payload": example}]
    return message


def document(examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document; ``examples`` maps type name to a signed example."""
    messages = {k.stem: _message(k, examples.get(k.name)) for k in CATALOGUE.values()}
    refs = {stem: {"$ref": f"#/components/messages/{stem}"} for stem in messages}
    messages["rejected"] = {
        "name": "rejected",
        "title": "A refused submission",
        "summary": "The bytes received (all of them, or the first 4,096 of an oversized "
        "submission), sealed (they may carry raw identifiers), with the reason in headers.",
        "headers": REJECTED_HEADERS,
        "payload": {
            "type": "string",
            "description": "The bytes received, or their start, sealed: see ledger-sealed",
        },
    }
    messages["committed"] = {
        "name": "committed",
        "title": "A committed ledger event",
        "summary": "An event as stored (subject pseudonyms, sealed envelope), in ledger order.",
        "headers": {
            "type": "object",
            "required": ["ledger-position", "ledger-topic"],
            "properties": {
                "ledger-position": _header(
                    "Position in the ledger (increasing, may have gaps): the dedupe key"
                ),
                "ledger-topic": _header("The domain event's class, e.g. ...Consent.Withdrawn"),
                "ledger-originator-id": _header("The aggregate's id"),
                "ledger-originator-version": _header("The event's version in that aggregate"),
            },
        },
        "payload": {"type": "object", "description": "The stored domain event (JSON)"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Audit and consent ledger: the signed event contract",
            "version": "1.0.0",
            "description": "Services submit signed CloudEvents (structured JSON mode) to "
            "ledger.submissions, or POST the same bytes to /v1/events. The signature is "
            "Ed25519 (base64url, no padding) over the RFC 8785 canonical JSON of the event "
            "without its `signature` attribute; `signingkey` names the registered key. "
            "(source, id) is the idempotency key: resending the same event is safe (it is "
            "recorded once); sending other content under an id already recorded is refused "
            "(conflicting-resend) and flagged as a compliance finding. Refusals go to "
            "ledger.rejected with a stable reason code. Objects and arrays may nest at most "
            "32 deep; strings may not hold U+0000 or unpaired surrogates.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "embedded": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "The embedded development broker (LEDGER_KAFKA_BOOTSTRAP).",
            }
        },
        "channels": {
            "submissions": {
                "address": "ledger.submissions",
                "description": "Signed events from services, one per record.",
                "messages": refs,
            },
            "rejected": {
                "address": "ledger.rejected",
                "description": (
                    "Dead letters: refused submissions (the bytes received, sealed) and why, "
                    "published "
                    "from the ledger's stored refusals at least once; dedupe by the "
                    "ledger-refusal-id header."
                ),
                "messages": {"rejected": {"$ref": "#/components/messages/rejected"}},
            },
            "events": {
                "address": "ledger.events",
                "description": (
                    "The committed log for downstream consumers: published in ledger order "
                    "after commit, at least once (a publisher restart may resend its last "
                    "unacknowledged batch). Dedupe by the ledger-position header; positions "
                    "increase but may have gaps. Records are keyed by subject key, so one "
                    "citizen's events keep their order within a partition."
                ),
                "messages": {"committed": {"$ref": "#/components/messages/committed"}},
            },
        },
        "operations": {
            "submitEvent": {
                "action": "send",
                "channel": {"$ref": "#/channels/submissions"},
                "messages": [{"$ref": f"#/channels/submissions/messages/{s}"} for s in refs],
            },
            "receiveRejected": {
                "action": "receive",
                "channel": {"$ref": "#/channels/rejected"},
                "messages": [{"$ref": "#/channels/rejected/messages/rejected"}],
            },
            "receiveCommitted": {
                "action": "receive",
                "channel": {"$ref": "#/channels/events"},
                "messages": [{"$ref": "#/channels/events/messages/committed"}],
            },
        },
        "components": {"messages": messages},
    }
