"""The fast canonical JSON path is byte-identical to the RFC 8785 reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_emitter.jcs import _plain, canonical

from ledger.signing import NOT_CANONICAL, parse_canonical, parse_json

ROOT = Path(__file__).resolve().parents[2]

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # every code point: controls, U+2028, DEL, astral, lone surrogates
)
KEYS = st.text(max_size=8) | st.sampled_from(["id", "data", "\u00e9", "\ue000", "\U0001f600"])
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception as exc:
        return type(exc)


def ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical(value)
    except Exception as exc:
        return type(exc)


@settings(max_examples=3000, deadline=None)
@given(JSON)
def test_canonical_bytes_equal_the_reference_for_any_json(value: Any) -> None:
    assert ours(value) == reference(value)


@settings(max_examples=1000, deadline=None)
@given(st.text())
def test_every_string_escapes_exactly_as_rfc_8785(text: str) -> None:
    assert ours({"k": text}) == reference({"k": text})


def test_every_published_example_takes_the_fast_path() -> None:
    examples = sorted((ROOT / "docs/contract/examples").glob("*.v1.json"))
    assert examples
    for path in examples:
        assert _plain(json.loads(path.read_text())), path.name


# parse_canonical: the received bytes are their own canonical form --------------------


def strict(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except Exception as exc:
        return type(exc)


def check_parse_canonical(raw: bytes) -> None:
    """Whenever the fast parse answers, the strict parse agrees and ``raw`` is the RFC
    8785 form of the value; so verifying the signature over it is exactly right."""
    value = parse_canonical(raw)
    if value is not NOT_CANONICAL:
        assert strict(raw) == value
        assert reference(value) == raw


@settings(max_examples=3000, deadline=None)
@given(JSON)
def test_canonical_bytes_parse_fast_only_when_exactly_canonical(value: Any) -> None:
    raw = reference(value)
    if not isinstance(raw, bytes):
        return
    check_parse_canonical(raw)
    # The common case, plain data sent canonically, always takes the fast path.
    if _plain(value) and raw.isascii() and b"\\" not in raw:
        assert parse_canonical(raw) is not NOT_CANONICAL


# Near-canonical texts: duplicates, whitespace, reordered members, numbers in every form.
TOKENS = st.lists(
    st.sampled_from(
        [
            *(b"{", b"}", b"[", b"]", b",", b":", b" ", b'"a"', b'"b"', b'"\\u0061"', b'"\\n"'),
            *(b"1", b"-0", b"1.0", b"1e2", b"1E2", b"2.5", b"9007199254740993", b"true"),
            *(b"false", b"null", b"NaN", b'"e"', b'"1.5"', b"\xc3\xa9", b"\xff"),
        ]
    ),
    max_size=16,
).map(b"".join)


@settings(max_examples=5000, deadline=None)
@given(TOKENS)
def test_no_text_takes_the_fast_path_unless_it_is_canonical(raw: bytes) -> None:
    check_parse_canonical(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":1}',  # a member named twice
        b'{"b":1,"a":2}',  # members out of order
        b'{"a": 1}',  # whitespace
        b'{"a":1.0}',  # a fraction: RFC 8785 writes 1
        b'{"a":1e21}',  # an exponent: RFC 8785 writes 1e+21
        b'{"a":9007199254740993}',  # beyond 2^53: RFC 8785 rounds it
        b'{"\\u0061":1}',  # an escape
        b'{"\xc3\xa9":1}',  # a non-ASCII member name
        b'{"a":NaN}',
    ],
)
def test_texts_that_are_not_canonical_take_the_strict_path(raw: bytes) -> None:
    assert parse_canonical(raw) is NOT_CANONICAL


def test_every_published_example_sent_as_an_emitter_sends_it_parses_on_the_fast_path() -> None:
    examples = sorted((ROOT / "docs/contract/examples").glob("*.v1.json"))
    assert examples
    for path in examples:
        value = json.loads(path.read_text())  # published pretty-printed, for people
        raw = canonical(value)
        if raw.isascii():
            assert parse_canonical(raw) == value, path.name
