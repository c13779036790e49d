"""The fast canonical JSON path is byte-identical to the RFC 8785 reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.signing import _plain, canonical

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
