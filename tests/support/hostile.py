"""Hostile submissions, generated (hypothesis strategies; the named ones are in
``tests.support.garbage``). Whatever they are, each must end as an event or a refusal
with a stable reason, and no refusal may quote the identifiers it was sent.

Signed ones are signed with the published test key (``published_test_key()``), so a
test's registry that holds that key lets them through the signature to the schema, the
builders and the recording rules.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from ledger_emitter import KEY_ID_ATTR, SIGNATURE_ATTR, SigningKey, canonical

from ledger.catalogue import CATALOGUE
from ledger.catalogue.examples import (
    EXAMPLE_ORGANISATION,
    EXAMPLE_SOURCE,
    STORY_START,
    published_test_key,
    signed_story,
)
from ledger.intake import Intake, RegisteredKey
from ledger.keyring import Keyring

KEY = published_test_key()
STORY = signed_story()
NOW = STORY_START + timedelta(days=1)  # the worked examples' day after
TYPES = sorted(CATALOGUE)
ENVELOPE = ("specversion", "id", "source", "type", "time", "datacontenttype", "dataschema")


class OneKey:
    """A key registry holding the published test key only (pure unit tests)."""

    registered = RegisteredKey(
        KEY.key_id,
        KEY.public_key,
        EXAMPLE_SOURCE,
        EXAMPLE_ORGANISATION,
        frozenset(CATALOGUE),
        STORY_START - timedelta(days=300),
    )

    def key(self, key_id: str) -> RegisteredKey | None:
        return self.registered if key_id == KEY.key_id else None


def story_intake() -> Intake:
    """The real intake, with only the test key registered and the examples' clock."""
    return Intake(
        OneKey(),
        Keyring(b"\x0f" * 32),
        max_bytes=65536,
        max_future=timedelta(minutes=5),
        clock=lambda: NOW,
    )


def unsigned(step: int) -> dict[str, Any]:
    """The worked example of ``step`` without its signature and key id."""
    event = STORY[step][1]
    return copy.deepcopy({k: v for k, v in event.items() if k not in (SIGNATURE_ATTR, KEY_ID_ATTR)})


def step_of(name: str) -> int:
    """The story step of a worked example, by its file name."""
    return [file for file, _ in STORY].index(name)


# Identifier-like values: a refusal that quoted one would put a citizen's identifier in a
# table, a header or an HTTP answer.
NHS_LIKE = st.from_regex(r"\A[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}\Z")
NINO_LIKE = st.from_regex(r"\A[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\Z")
identifiers = st.one_of(NHS_LIKE, NINO_LIKE)

ODD_TEXTS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udc00\ud800",
    "\ufeff",
    "\ufffe",
    "\u2028",
    "\u0085",
    "\x1b[2J",
    "\x7f",
    "\U0010ffff",
    "abc\n",
    "\n",
    "DWP\n",
    "x" * 5000,
    "9434765919\n",
    "AB123456C\n",
    "2026-11-02T09:00:00Z\n",
    "2026-11-02T09:00:00.123456789Z",
    "2026-11-02t09:00:00z",
    "2026-11-02T09:00:60Z",
    "2028-02-29T00:00:00+00:00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "+002026-11-02T09:00:00Z",
    "\uff12\uff10\uff12\uff16-11-02T09:00:00Z",
    "2026-11-02",
    "9999-12-31",
    "0001-01-01",
    "2026-W44-1",
    "20261102",
    "P",
    "P" + "9" * 400 + "Y",
    "_type_",
    "ed25519:" + "0" * 32,
]
ODD_NUMBERS: list[Any] = [
    0,
    -1,
    1.0,
    -0.0,
    0.5,
    2**31,
    2**53 - 1,
    2**53,
    2**63,
    10**30,
    1e21,
    1e300,
    -1e300,
    5e-324,
]

texts = st.one_of(
    st.sampled_from(ODD_TEXTS),
    st.text(st.characters(exclude_categories=()), max_size=40),
    identifiers,
)
numbers = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)


def _instant_text(moment: datetime, offset_minutes: int, fraction: str) -> str:
    if offset_minutes == 0:
        zone = "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        zone = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    return moment.replace(microsecond=0).isoformat() + fraction + zone


# RFC 3339 instants anywhere in years 1 to 9999, with any offset: near the ends of that
# range, some are instants no Python datetime can hold in UTC.
times = st.one_of(
    st.sampled_from([t for t in ODD_TEXTS if t[:4].isdigit() and "T" in t.upper()]),
    st.builds(
        _instant_text,
        st.datetimes(),
        st.one_of(st.just(0), st.integers(-(23 * 60 + 59), 23 * 60 + 59)),
        st.sampled_from(["", ".5", ".123456", ".1234567891"]),
    ),
)
days = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-29", "2026-11-02\n"]),
    st.dates().map(lambda d: d.isoformat()),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(texts, st.sampled_from(["_type_", "_data_"])), inner, max_size=5),
        # What the ledger's stored form takes for a datetime, UUID or decimal.
        st.fixed_dictionaries({"_type_": texts, "_data_": inner}),
    ),
    max_leaves=12,
)


# JSON text, built token by token so that it can be what no serialiser writes.
_ODD_TOKENS = [
    b"NaN",
    b"-Infinity",
    b"Infinity",
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"-0",
    b"01",
    b"1" * 5000,
    b"1." + b"1" * 5000,
    b'"\\ud800"',
    b'"\\udc00"',
    b'"\\u0000"',
    b'"\x00"',
    b'"\\x41"',
    b'"\xff"',
    b'"\xed\xa0\x80"',
    b'"\xc0\x80"',
    b"\xef\xbb\xbf1",
    b'"\n"',
    b"tru",
    b'"',
    b"]",
    b"}",
]


def _object_text(members: list[tuple[bytes, bytes]]) -> bytes:
    return b"{" + b",".join(k + b":" + v for k, v in members) + b"}"


_scalar_texts = st.one_of(
    st.sampled_from(_ODD_TOKENS),
    scalars.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
)
_key_texts = st.one_of(
    st.sampled_from([b'"id"', b'"type"', b'"data"', b'"signature"', b'"\\u0000"', b'"\\ud800"']),
    texts.map(lambda t: json.dumps(t).encode()),
)
json_texts = st.recursive(
    _scalar_texts,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5).map(lambda xs: b"[" + b",".join(xs) + b"]"),
        st.lists(st.tuples(_key_texts, inner), max_size=5).map(_object_text),
    ),
    max_leaves=25,
)


@st.composite
def deep_texts(draw: st.DrawFn) -> bytes:
    """Nesting from shallow to far past any limit, balanced or not."""
    depth = draw(st.integers(0, 3000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'["', b'"]')]))
    inside = draw(_scalar_texts)
    closing = draw(st.integers(0, depth))
    return opener * depth + inside + closer * closing


@st.composite
def wide_texts(draw: st.DrawFn) -> bytes:
    """An array or object of up to 20,000 members, the same or all different, in at
    most about a megabyte."""
    item = draw(_scalar_texts)
    width = draw(st.integers(0, min(20_000, 1_000_000 // (len(item) + 8))))
    if draw(st.booleans()):
        return b"[" + b",".join([item] * width) + b"]"
    same = draw(st.booleans())
    names = (b'"a"' if same else b'"m%d"' % n for n in range(width))
    return b"{" + b",".join(name + b":" + item for name in names) + b"}"


@st.composite
def byte_damage(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` with a BOM, invalid UTF-8, a NUL, whitespace or a cut somewhere."""
    damage = draw(
        st.sampled_from([b"\xef\xbb\xbf", b"\xff", b"\xc0\x80", b"\x00", b" \t\r\n", b""])
    )
    at = draw(st.integers(0, len(raw)))
    cut = draw(st.integers(at, len(raw)))
    return raw[:at] + damage + raw[cut:]


@st.composite
def cloudevent_shaped(draw: st.DrawFn) -> bytes:
    """An object with the envelope's attributes, the registered key's id and a
    signature that is of the right form or not, and any data."""
    event: dict[str, Any] = {
        "specversion": draw(_mostly(st.just("1.0"), st.sampled_from(["0.3", "", "1.0\n"]))),
        "id": draw(_mostly(st.just("e-1"), texts)),
        "source": draw(_mostly(st.just(EXAMPLE_SOURCE), texts)),
        "type": draw(_mostly(st.sampled_from(TYPES), texts)),
        "time": draw(_mostly(st.just("2026-11-02T09:00:00Z"), st.one_of(texts, times))),
        "signingkey": draw(_mostly(st.just(KEY.key_id), texts)),
        "signature": draw(_mostly(_signature_like, texts)),
        "data": draw(_mostly(st.sampled_from([e["data"] for _, e in STORY]), values)),
    }
    for name in draw(st.sets(st.sampled_from(sorted(event)), max_size=2)):
        del event[name]
    return json.dumps(event, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


def _mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(usual, usual, usual, odd)


_signature_like = st.tuples(
    st.text(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=85, max_size=85
    ),
    st.sampled_from("AQgwB"),
).map("".join)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every JSON pointer in ``value`` (as a tuple of steps), ``()`` first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def parent(root: Any, path: tuple[Any, ...]) -> Any:
    """The object or array that holds what ``path`` names."""
    for step in path[:-1]:
        root = root[step]
    return root


@st.composite
def _mutated_data(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with one member replaced, removed or added, anywhere in it."""
    data = copy.deepcopy(data)
    path = draw(st.sampled_from(paths(data)[1:]))
    inside = parent(data, path)
    what = draw(st.sampled_from(["alike", "alike", "alike", "alike", "replace", "remove", "add"]))
    if what == "alike":
        inside[path[-1]] = draw(_alike(inside[path[-1]]))
    elif what == "replace":
        inside[path[-1]] = draw(values)
    elif what == "remove":
        del inside[path[-1]]
    elif isinstance(inside, dict):
        inside[draw(texts)] = draw(values)
    else:
        inside.append(draw(values))
    return data


def _alike(value: Any) -> st.SearchStrategy[Any]:
    """A value of the same JSON type as ``value``, odd enough to be a test."""
    if isinstance(value, bool) or value is None:
        return scalars
    if isinstance(value, str):
        if value[:4].isdigit() and "T" in value:
            return st.one_of(times, texts)
        if value[:4].isdigit():
            return st.one_of(days, texts)
        return texts
    if isinstance(value, int | float):
        return numbers
    return values


@dataclass
class Hostile:
    """A worked example made hostile, before it is signed."""

    step: int  # the story step it mutates
    event: dict[str, Any]  # unsigned
    carried: list[str]  # the identifiers it carries
    layout: str  # how its bytes are laid out (a key of LAYOUTS)

    def signed(self, key: SigningKey = KEY) -> bytes | None:
        """Its bytes, validly signed; None if RFC 8785 has no form for it."""
        signed = sign_or_none(self.event, key)
        return None if signed is None else LAYOUTS[self.layout](signed)


@st.composite
def hostile_events(draw: st.DrawFn) -> Hostile:
    """A worked example whose data or envelope is made hostile, one to three times."""
    step = draw(st.integers(0, len(STORY) - 1))
    event = unsigned(step)
    carried: list[str] = []
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        where = draw(st.sampled_from(["data", "data", "data", "subjects", "anywhere", "envelope"]))
        if where == "data" and isinstance(event.get("data"), dict) and event["data"]:
            event["data"] = draw(_mutated_data(event["data"]))
        elif where == "subjects" and "subjects" in event.get("data", ()):
            value = draw(identifiers)
            scheme = draw(st.sampled_from(["nhs-number", "nino", "local", "one-login"]))
            event["data"] = {**event["data"], "subjects": [{"scheme": scheme, "value": value}]}
            carried.append(value)
        elif where == "anywhere":  # an identifier in some text, where it does not belong
            value = draw(identifiers)
            path = draw(st.sampled_from(paths(event)[1:]))
            parent(event, path)[path[-1]] = value
            carried.append(value)
        elif where == "envelope":
            name = draw(st.sampled_from(ENVELOPE))
            what = draw(st.sampled_from(["alike", "alike", "replace", "remove"]))
            if what == "remove":
                event.pop(name, None)
            else:
                event[name] = draw(texts if what == "alike" else values)
    return Hostile(step, event, carried, draw(st.sampled_from(sorted(LAYOUTS))))


@st.composite
def signed_hostile(draw: st.DrawFn) -> tuple[int, bytes, list[str]]:
    """(the story step it mutates, bytes validly signed by the test key, the identifiers
    it carries): :func:`hostile_events`, signed, laid out canonically or not."""
    hostile = draw(hostile_events())
    raw = hostile.signed()
    assume(raw is not None)
    assert raw is not None
    return hostile.step, raw, hostile.carried


def sign_or_none(event: dict[str, Any], key: SigningKey) -> dict[str, Any] | None:
    """``event`` signed, or None when RFC 8785 has no form for it (a lone surrogate, an
    integer beyond 2^53, NaN): then no emitter could sign it either."""
    try:
        return key.sign(event)
    except (ValueError, TypeError, UnicodeError):
        return None


LAYOUTS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "canonical": canonical,
    "ascii": lambda e: json.dumps(e).encode(),
    "utf-8": lambda e: json.dumps(e, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    "pretty": lambda e: json.dumps(e, indent=2, sort_keys=True).encode(),
}
