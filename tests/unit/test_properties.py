"""Properties of the signed contract, over generated events (hypothesis)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_emitter import canonical

from ledger import signing
from ledger.catalogue import CATALOGUE, validator
from ledger.catalogue.examples import published_test_key, signed_story
from ledger.intake import Intake, RegisteredKey
from ledger.keyring import Keyring
from ledger.refusals import Refusal
from ledger.subjects import nhs_number_is_valid

KEY = published_test_key()
STORY = [event for _, event in signed_story()]
NOW = datetime(2026, 11, 3, tzinfo=UTC)


class Registry:
    def key(self, key_id: str) -> RegisteredKey | None:
        return (
            RegisteredKey(
                KEY.key_id, KEY.public_key, STORY[0]["source"], "DWP", frozenset(CATALOGUE), NOW
            )
            if key_id == KEY.key_id
            else None
        )


INTAKE = Intake(
    Registry(),
    Keyring(b"\x0f" * 32),
    max_bytes=65536,
    max_future=timedelta(minutes=5),
    clock=lambda: NOW,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(event=st.sampled_from(STORY), data=st.data())
def test_any_change_to_a_signed_events_bytes_is_refused(event: dict[str, Any], data: Any) -> None:
    raw = canonical(event)
    INTAKE.assess(raw)  # the original is accepted
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    mutation = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="mutation")
    byte = data.draw(st.integers(0x21, 0x7E).filter(lambda b: b != raw[position]), label="byte")
    if mutation == "replace":
        changed = raw[:position] + bytes([byte]) + raw[position + 1 :]
    elif mutation == "delete":
        changed = raw[:position] + raw[position + 1 :]
    else:
        changed = raw[:position] + bytes([byte]) + raw[position:]
    with pytest.raises(Refusal):
        INTAKE.assess(changed)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _relaid(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _relaid(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_relaid(v, rng) for v in value]
    return value


@given(value=json_values, seed=st.integers(), indent=st.sampled_from([None, 0, 1, 4, "\t"]))
def test_canonical_json_is_stable_under_key_order_and_white_space(
    value: Any, seed: int, indent: Any
) -> None:
    text = json.dumps(
        _relaid(value, random.Random(seed)), indent=indent, ensure_ascii=seed % 2 == 0
    )
    assert canonical(json.loads(text)) == canonical(value)


@given(event=st.sampled_from(STORY), seed=st.integers(), indent=st.sampled_from([None, 2, "\t"]))
def test_a_signed_event_in_any_layout_is_accepted(
    event: dict[str, Any], seed: int, indent: Any
) -> None:
    text = json.dumps(
        _relaid(event, random.Random(seed)), indent=indent, ensure_ascii=seed % 2 == 0
    )
    assert INTAKE.assess(text.encode()).event_id == event["id"]


# A strategy for any value a (subset of) JSON Schema accepts: what the catalogue uses.


def _valid_nhs_numbers() -> st.SearchStrategy[str]:
    return st.from_regex(r"[0-9]{10}", fullmatch=True).filter(nhs_number_is_valid)


SUBJECTS = st.one_of(
    st.builds(lambda v: {"scheme": "nhs-number", "value": v}, _valid_nhs_numbers()),
    st.builds(
        lambda v: {"scheme": "nino", "value": v},
        st.from_regex(r"(AB|CE|JG|WR)[0-9]{6}[A-D]", fullmatch=True),
    ),
    st.builds(
        lambda v: {"scheme": "one-login", "value": "urn:fdc:gov.uk:2022:" + v},
        st.from_regex(r"[A-Za-z0-9_-]{10,20}", fullmatch=True),
    ),
    st.builds(
        lambda v: {"scheme": "local", "value": "LEEDS:" + v},
        st.from_regex(r"[A-Za-z0-9._/-]{1,12}", fullmatch=True),
    ),
)
INSTANTS = st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC))


def from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return SUBJECTS if name == "subject" else from_schema(defs[name], defs)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([from_schema(s, defs) for s in schema["anyOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, defs) for k in kind])
    if kind == "object":
        return _object(schema, defs)
    if kind == "array":
        size = st.integers(schema.get("minItems", 0), min(schema.get("maxItems", 3), 3))
        return size.flatmap(
            lambda n: st.lists(from_schema(schema["items"], defs), min_size=n, max_size=n)
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -1000), schema.get("minimum", 0) + 1000)
    if kind == "null":
        return st.none()
    if schema.get("format") == "date-time":
        return INSTANTS.map(lambda t: t.isoformat().replace("+00:00", "Z"))
    if schema.get("format") == "date":
        return st.dates().map(lambda d: d.isoformat())
    if schema.get("format") == "uri":
        return st.just("https://example.org/notice")
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    return st.text(
        min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 20), 20)
    )


def _object(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    branches = [b["required"] for b in schema.get("oneOf", [])] or [[]]

    def build(branch: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        excluded = {p for b in branches for p in b} - set(branch)
        required = [*schema.get("required", []), *branch]
        optional = [p for p in properties if p not in required and p not in excluded]
        return st.fixed_dictionaries(
            {p: from_schema(properties[p], defs) for p in required},
            optional={p: from_schema(properties[p], defs) for p in optional},
        ).filter(lambda d: len(d) >= schema.get("minProperties", 0))

    return st.sampled_from(branches).flatmap(build)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_event_type_round_trips_through_its_schema(name: str) -> None:
    schema = validator(name).schema
    defs = schema["$defs"]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=from_schema(schema["properties"]["data"], defs), time=INSTANTS)
    def round_trip(data: dict[str, Any], time: datetime) -> None:
        event = KEY.sign(
            {
                "specversion": "1.0",
                "id": "generated",
                "source": STORY[0]["source"],
                "type": name,
                "time": time.isoformat(),
                "data": data,
            }
        )
        assert list(validator(name).iter_errors(event)) == []
        again = signing.parse_json(canonical(event))
        assert again == event
        assert list(validator(name).iter_errors(again)) == []
        assert signing.verify(again, KEY.public_key)

    round_trip()
