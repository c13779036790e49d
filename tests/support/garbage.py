"""Named hostile submissions: the nastiest records we could think of, each of which must
be refused with a stable reason, and the worked examples with one value made odd.

Signed ones are signed with the published test key, as the examples' service registered
by :func:`tests.support.contract.register_example_service`; a test's intake takes the
examples' clock (``tests.support.contract.example_intake``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import nacl.signing
from ledger_emitter import SIGNATURE_ATTR, SigningKey, b64url, canonical

from ledger.catalogue.examples import UC_SOURCE
from ledger.jsontext import MAX_DEPTH
from tests.support.hostile import (
    KEY,
    ODD_NUMBERS,
    ODD_TEXTS,
    STORY,
    parent,
    paths,
    step_of,
    unsigned,
)

ACCESS = step_of("data-accessed.v1.json")
# The odd texts a sweep tries in every member (a newline after the member's own value is
# tried there: the others with one are left out).
SWEPT_TEXTS = [t for t in ODD_TEXTS if t == "\n" or not t.endswith("\n")]


def valid_access(event_id: str = "example-valid") -> bytes:
    """A worked data-accessed example, signed and canonical: it must be recorded."""
    return canonical(KEY.sign({**unsigned(ACCESS), "id": event_id}))


def signed_text(text: bytes, key: SigningKey = KEY) -> bytes:
    """A signature over exactly ``text`` (a JSON object without a signature), added as
    its last member: how a forger with the right key would sign what JCS cannot write."""
    signature = nacl.signing.SigningKey(key.seed).sign(text).signature
    assert text.endswith(b"}")
    return text[:-1] + b',"signature":"' + b64url(signature).encode() + b'"}'


def _access(name: str, *, data: dict[str, Any] | None = None, **envelope: Any) -> dict[str, Any]:
    event = {**unsigned(ACCESS), "id": f"garbage-{name}", **envelope}
    if data is not None:
        event["data"] = {**event["data"], **data}
    return event


def _signed(name: str, *, data: dict[str, Any] | None = None, **envelope: Any) -> bytes:
    return canonical(KEY.sign(_access(name, data=data, **envelope)))


def _shape(step: int, **data: Any) -> dict[str, Any]:
    event = unsigned(step)
    return {**event, "id": f"garbage-{step}", "data": {**event["data"], **data}}


def named_garbage() -> list[tuple[str, bytes]]:
    """(what it is, the bytes): every one must be refused with a stable reason."""
    valid = valid_access("garbage-valid-base")
    event = json.loads(valid)
    forged = {**event, SIGNATURE_ATTR: KEY.sign({**event, "id": "another"})[SIGNATURE_ATTR]}
    share = step_of("data-shared.v1.json")
    manifest_share = _shape(share, manifest={"sha256": "ab" * 32, "subject_count": 1e300})
    del manifest_share["data"]["subjects"]
    consent = step_of("consent-given.v1.json")
    listed = {**_access("data-list"), "data": [event["data"]]}
    # JCS has no form for a lone surrogate: sign the text itself.
    surrogate = canonical({**_access("surrogate"), "signingkey": KEY.key_id})
    surrogate = surrogate.replace(b'"garbage-surrogate"', b'"\\ud800"')
    return [
        ("empty", b""),
        ("whitespace", b" \t\r\n "),
        ("NUL bytes", b"\x00" * 64),
        ("random bytes", bytes(range(256)) * 4),
        ("invalid UTF-8", b'{"id": "\xff\xfe"}'),
        ("an overlong UTF-8 NUL", b'{"id": "\xc0\x80"}'),
        ("a surrogate in UTF-8", b'{"id": "\xed\xa0\x80"}'),
        ("a byte order mark before a valid event", b"\xef\xbb\xbf" + valid),
        ("an empty array", b"[]"),
        ("a string", b'"x"'),
        ("a number past a double", b"1e400"),
        ("a 5,000-digit integer", b"1" * 5000),
        (
            "a 5,000-digit integer in an event",
            valid.replace(b'{"data"', b'{"big":' + b"7" * 5000 + b',"data"'),
        ),
        ("a member named twice", valid.replace(b'{"data"', b'{"id":"x","data"')),
        ("NaN", valid.replace(b'"specversion":"1.0"', b'"specversion":NaN')),
        ("Infinity", b'{"specversion":Infinity}'),
        ("10,000 deep", b"[" * 10_000 + b"]" * 10_000),
        ("100 deep", b'{"a":' * 100 + b"1" + b"}" * 100),
        ("just past the depth limit", b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)),
        ("unterminated strings", b'"' + b'\\"' * 30_000 + b"[" * 40),
        ("a truncated event", valid[: len(valid) // 2]),
        ("a 1.5 MB record", b'{"padding": "' + b"x" * 1_500_000 + b'"}'),
        ("signed, U+0000 in a text", _signed("nul", data={"record": "benefit\x00claim"})),
        ("signed, a lone surrogate in id", signed_text(surrogate)),
        ("signed, an id with a trailing newline", _signed("newline\n")),
        ("signed, a time far in the future", _signed("future", time="2126-11-02T09:00:00Z")),
        ("signed, a time no datetime holds", _signed("overflow", time="9999-12-31T23:59:59-23:59")),
        ("signed, another service's source", _signed("source", source=UC_SOURCE)),
        ("signed, schema-breaking data", _signed("schema", data={"action": "photocopied"})),
        ("signed, data that is not an object", canonical(KEY.sign(listed))),
        ("signed, an unknown type", _signed("type", type="uk.gov.ledger.gossip.v1")),
        ("signed, an unknown version", _signed("version", type="uk.gov.ledger.data-accessed.v9")),
        (
            "signed, an invalid NHS number",
            _signed("nhs", data={"subjects": [{"scheme": "nhs-number", "value": "9434765918"}]}),
        ),
        ("signed, a count no view holds", canonical(KEY.sign(manifest_share))),
        (
            "signed, an expiry no datetime holds",
            canonical(KEY.sign(_shape(consent, expires_at="9999-12-31T23:59:59-23:59"))),
        ),
        ("unsigned", canonical(_access("unsigned"))),
        (
            "a signature of the wrong length",
            valid.replace(event[SIGNATURE_ATTR].encode(), event[SIGNATURE_ATTR][:-2].encode()),
        ),
        ("the registered key, a wrong signature", canonical(forged)),
        ("an unknown key", canonical(SigningKey(b"\x01" * 32).sign(_access("stranger")))),
        ("specversion 0.3", _signed("spec", specversion="0.3")),
    ]


def bases() -> list[tuple[int, dict[str, Any]]]:
    """(story step, unsigned event): every worked example, and some again with the
    optional members they leave out."""
    share = step_of("data-shared.v1.json")
    by_manifest = unsigned(share)
    del by_manifest["data"]["subjects"]
    # A bulk share by manifest, under no agreement (the findings count its subjects).
    by_manifest["data"].update(manifest={"sha256": "ab" * 32, "subject_count": 2}, agreement=None)
    in_parts = unsigned(share)
    in_parts["data"]["part"] = {"share": "SHARE-1", "index": 1, "count": 2}
    key = step_of("key-registered.v1.json")
    from_when = unsigned(key)
    from_when["data"]["valid_from"] = "2026-11-01T00:00:00Z"
    return [
        *((step, unsigned(step)) for step in range(len(STORY))),
        (share, by_manifest),
        (share, in_parts),
        (key, from_when),
    ]


def odd_leaves() -> list[tuple[int, dict[str, Any]]]:
    """(story step, unsigned event): every leaf of every base event's data and envelope
    (:func:`bases`) replaced, one at a time, by every odd value of its JSON type."""
    found = []
    for step, base in bases():
        for path in paths(base)[1:]:
            value = parent(base, path)[path[-1]]
            if isinstance(value, dict | list):
                continue
            if isinstance(value, bool) or value is None:
                odd: list[Any] = [None, True, 0, "", "null"]
            elif isinstance(value, int | float):
                odd = ODD_NUMBERS
            else:
                odd = [value + "\n", value.upper(), value + " ", *SWEPT_TEXTS]
            for replacement in odd:
                event = copy.deepcopy(base)
                parent(event, path)[path[-1]] = replacement
                found.append((step, event))
    return found
