"""The compiled schema check (``ledger.catalogue.prefilter``) is only a fast path: it
accepts exactly what the reference validator (jsonschema, 2020-12) accepts, and
refusals come with the reference's precise message and pointer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ledger.catalogue import CATALOGUE, prefilter, schema_errors, validator
from ledger.catalogue.prefilter import ANNOTATIONS, KEYWORDS, format_test

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs/contract/examples").glob("*.v1.json"))

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
    check = prefilter(name)
    assert check is not None, f"{name} uses a keyword the fast path does not implement"
    return check(copy.deepcopy(event))


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
    check = prefilter(event["type"])
    assert check is not None and check(event)
    assert event == before


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_type_has_a_fast_path(name: str) -> None:
    assert keywords(validator(name).schema) <= ANNOTATIONS | KEYWORDS | {"$defs"}
    assert prefilter(name) is not None


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
    | st.sampled_from(["2026-03-03T10:15:00Z", "2026-02-30", "viewed", "DWP", "9434765919", ""])
    # Strings at and around every length bound the catalogue uses.
    | st.builds(
        lambda n, c: c * n,
        st.sampled_from([0, 1, 2, 31, 32, 33, 63, 64, 65, 79, 80, 81, 86, 87])
        | st.sampled_from([119, 120, 121, 127, 128, 129, 199, 200, 201, 255, 256, 257])
        | st.sampled_from([299, 300, 301, 499, 500, 501, 511, 512, 513, 1000, 1001]),
        st.sampled_from(["a", "A", "0", " "]),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=4000, deadline=None)
@given(data=st.data())
def test_the_fast_path_and_the_reference_agree_on_mutated_examples(data: st.DataObject) -> None:
    event = json.loads(data.draw(st.sampled_from(EXAMPLES)).read_text())
    name = event["type"]
    where = data.draw(st.sampled_from(paths(event)))
    parent = event
    for step in where[:-1]:
        parent = parent[step]
    change = data.draw(st.sampled_from(["delete", "replace", "add"]))
    if change == "delete" and isinstance(parent, dict):
        del parent[where[-1]]
    elif change == "add" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(["extra", "id", "code", "value", "text"]))] = data.draw(
            JSON_VALUES
        )
    else:
        parent[where[-1]] = data.draw(JSON_VALUES)

    reference_accepts = list(validator(name).iter_errors(event)) == []
    assert fast_accepts(name, event) == reference_accepts  # both ways, not just one
    assert (schema_errors(name, event) == []) == reference_accepts


BOUNDARY_LENGTHS = sorted(
    {n + d for n in (1, 2, 32, 64, 80, 86, 120, 128, 200, 256, 300, 500, 512) for d in (-1, 0, 1)}
)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_fast_path_and_the_reference_agree_at_every_length_bound(path: Path) -> None:
    """Every string of every example, at and around each length bound the catalogue
    uses: an off-by-one in the fast path cannot hide."""
    example = json.loads(path.read_text())
    name = example["type"]
    for where in paths(example):
        for length in BOUNDARY_LENGTHS:
            event = copy.deepcopy(example)
            parent = event
            for step in where[:-1]:
                parent = parent[step]
            if not isinstance(parent[where[-1]], str):
                break
            parent[where[-1]] = "a" * length
            reference_accepts = list(validator(name).iter_errors(event)) == []
            assert fast_accepts(name, event) == reference_accepts, (where, length)


def format_test_agrees(name: str, value: Any) -> bool:
    """The prefilter's test of a format answers as jsonschema's format checker does."""
    checker = Draft202012Validator.FORMAT_CHECKER
    return format_test(checker, name)(value) == checker.conforms(value, name)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-25T18:25:35.086778Z",
        "2026-11-25T18:25:35+01:00",
        "2026-11-25t18:25:35z",
        "2026-02-30T00:00:00Z",
        "2026-11-25 18:25:35Z",
        "2026-11-25",
        "",
        "not a time",
        "2026-11-25T18:25:60Z",
        42,
        None,
    ],
)
def test_a_format_test_answers_as_the_format_checker_does(value: Any) -> None:
    for name in ("date-time", "date", "uuid", "ipv4", "email", "no-such-format"):
        assert format_test_agrees(name, value), (name, value)


# Text near RFC 3339: digits, its punctuation, either case of T and Z, a trailing
# newline ("$" matches before one), and letters that upper-case to ASCII (long s to "S",
# dotless i to "I").
NEAR_DATE_TIME = st.one_of(
    st.text(alphabet="0123456789-:.TtZz+ \n\u017f\u0131", max_size=40),
    st.builds(
        lambda y, mo, d, h, mi, s, frac, zone, tail: (
            f"{y:04d}-{mo:02d}-{d:02d}{h}:{mi:02d}:{s:02d}{frac}{zone}{tail}"
        ),
        st.integers(0, 2400),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["T00", "t23", "T24", "T09", " 09"]),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["", ".5", ".123456", ".", ".1x"]),
        st.sampled_from(["Z", "z", "+00:00", "-23:59", "+24:00", "+0100", ""]),
        st.sampled_from(["", "\n", " ", "\n\n", "Z"]),
    ),
)


@settings(max_examples=3000, deadline=None)
@given(value=NEAR_DATE_TIME)
def test_the_date_time_fast_path_answers_as_jsonschema(value: str) -> None:
    assert format_test_agrees("date-time", value)


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-29T00:00:00Z",  # leap year
        "2023-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",  # divisible by 400
        "1900-02-29T00:00:00Z",  # by 100, not 400
        "0000-01-01T00:00:00Z",  # no year 0
        "2026-04-31T00:00:00Z",
        "2026-12-31t23:59:59.999z",
        "2026-11-25T19:27:24Z\n",
        "2026-11-25T19:27:24Z\n\n",
        "2026-11-25T19:27:24+01:00",
    ],
)
def test_the_date_time_fast_path_on_calendar_edges(value: str) -> None:
    assert format_test_agrees("date-time", value)
