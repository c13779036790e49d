"""The compiled schema validator is only a fast path: whatever it accepts, the reference
validator (jsonschema, 2020-12) accepts too, and refusals come with the reference's
precise message and pointer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.catalogue import CATALOGUE, _fast_validator, schema_errors, validator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs/contract/examples").glob("*.v1.json"))

# Keywords whose meaning is the same in draft 7 (fastjsonschema) and 2020-12.
SAME_IN_BOTH = {
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "$comment",
    "title",
    "description",
    "examples",
    "default",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "pattern",
    "format",
    "enum",
    "const",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "minProperties",
    "maxProperties",
    "uniqueItems",
    "exclusiveMinimum",
    "exclusiveMaximum",
}
NAMED_CHILDREN = {"properties", "$defs"}


def keywords(node: Any, parent: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if parent not in NAMED_CHILDREN:
            found |= set(node)
            if "$ref" in node:  # draft 7 ignores a $ref's siblings; 2020-12 applies them
                assert set(node) <= {"$ref", "description", "title", "$comment"}, node
        for key, value in node.items():
            found |= keywords(value, key)
    elif isinstance(node, list):
        for value in node:
            found |= keywords(value, parent)
    return found


def fast_accepts(name: str, event: Any) -> bool:
    try:
        _fast_validator(name)(copy.deepcopy(event))
    except Exception:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_schemas_use_only_keywords_that_mean_the_same_in_both_drafts(name: str) -> None:
    schema = validator(name).schema
    assert keywords(schema) <= SAME_IN_BOTH


def test_there_is_an_example_of_every_type() -> None:
    assert len(EXAMPLES) == len(CATALOGUE)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_both_validators_accept_every_published_example(path: Path) -> None:
    event = json.loads(path.read_text())
    assert fast_accepts(event["type"], event)
    assert schema_errors(event["type"], event) == []


def test_the_fast_path_never_fills_in_defaults() -> None:
    event = json.loads((ROOT / "docs/contract/examples/data-accessed.v1.json").read_text())
    event["data"].pop("break_glass", None)
    before = copy.deepcopy(event)
    _fast_validator(event["type"])(event)
    assert event == before


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.text(max_size=12)
    | st.sampled_from(["2026-03-03T10:15:00Z", "2026-02-30", "viewed", "DWP", "9434765919", ""]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_whatever_the_fast_path_accepts_the_reference_accepts(data: st.DataObject) -> None:
    event = json.loads(data.draw(st.sampled_from(EXAMPLES)).read_text())
    name = event["type"]
    where = data.draw(st.sampled_from(paths(event)))
    parent = event
    for step in where[:-1]:
        parent = parent[step]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = data.draw(JSON_VALUES)

    reference_accepts = list(validator(name).iter_errors(event)) == []
    if fast_accepts(name, event):
        assert reference_accepts
    assert (schema_errors(name, event) == []) == reference_accepts
