"""One identifier, one pseudonym: every accepted spelling of a citizen's identifier is
one person, and every other spelling is refused, by the parser, by the published schema
(in Python and in ECMA-262, as other languages' validators read it) and by the intake.

Generated identifiers (hypothesis) are spelled the ways the contract allows, then
corrupted the ways that once split a citizen in two: a trailing newline, digits of
other scripts, homoglyphs, zero-width characters, stray whitespace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources

import orjson
import pytest
import regress
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ledger_emitter import canonical

from ledger.catalogue import CATALOGUE
from ledger.catalogue.examples import EXAMPLE_SOURCE, published_test_key, signed_story
from ledger.intake import Intake, RegisteredKey
from ledger.keyring import Keyring
from ledger.refusals import Reason, Refusal
from ledger.subjects import SPELLINGS, InvalidIdentifier, SubjectId, nhs_number_is_valid

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = UPPER + UPPER.lower() + DIGITS
NINO_PREFIXES = [
    first + second
    for first in "ABCEGHJKLMNOPRSTWXYZ"
    for second in "ABCEGHJKLMNPRSTWXYZ"
    if first + second not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
]

# (scheme, canonical form, one accepted spelling of it)
Spelled = tuple[str, str, str]


@st.composite
def nhs_numbers(draw: st.DrawFn) -> Spelled:
    first_nine = draw(st.text(DIGITS, min_size=9, max_size=9))
    valid = [first_nine + last for last in DIGITS if nhs_number_is_valid(first_nine + last)]
    assume(valid)  # a check digit of 10 is never issued
    number = valid[0]
    one, two = draw(st.sampled_from(["", " ", "-"])), draw(st.sampled_from(["", " ", "-"]))
    return "nhs-number", number, number[:3] + one + number[3:6] + two + number[6:]


@st.composite
def ninos(draw: st.DrawFn) -> Spelled:
    groups = [
        draw(st.sampled_from(NINO_PREFIXES)),
        *(draw(st.text(DIGITS, min_size=2, max_size=2)) for _ in range(3)),
        draw(st.sampled_from("ABCD")),
    ]
    number = "".join(groups)
    cased = ["".join(draw(st.sampled_from([c, c.lower()])) for c in group) for group in groups]
    spelling = cased[0]
    for group in cased[1:]:
        spelling += draw(st.sampled_from(["", " "])) + group
    return "nino", number, spelling


@st.composite
def one_logins(draw: st.DrawFn) -> Spelled:
    subject = "urn:fdc:gov.uk:2022:" + draw(st.text(ALNUM + "_-", min_size=10, max_size=60))
    return "one-login", subject, subject


@st.composite
def local_references(draw: st.DrawFn) -> Spelled:
    organisation = draw(st.sampled_from(UPPER + DIGITS)) + draw(
        st.text(UPPER + DIGITS + "-", min_size=1, max_size=31)
    )
    reference = organisation + ":" + draw(st.text(ALNUM + "._/-", min_size=1, max_size=95))
    return "local", reference, reference


identifiers = st.one_of(nhs_numbers(), ninos(), one_logins(), local_references())


def _at(draw: st.DrawFn, text: str, wanted: Callable[[str], bool]) -> int:
    """A position in ``text`` whose character is ``wanted``."""
    positions = [i for i, c in enumerate(text) if wanted(c)]
    assume(positions)
    return draw(st.sampled_from(positions))


def _ascii_digit(c: str) -> bool:
    return c in DIGITS


def _ascii_letter(c: str) -> bool:
    return c.isascii() and c.isalpha()


# Zeros of scripts whose digits Python's \d, str.isdigit() and int() all take for 0-9.
OTHER_ZEROS = [0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7CE]
# Letters that look like (or case-fold into) ASCII ones.
HOMOGLYPHS = {
    "A": "\u0410",  # Cyrillic A
    "B": "\u0392",  # Greek Beta
    "C": "\u0421",  # Cyrillic Es
    "K": "\u212a",  # Kelvin sign: its lower() is "k"
    "i": "\u0131",  # dotless i: its upper() is "I"
    "s": "\u017f",  # long s: its upper() is "S"
}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, str]:
    """A scheme and a spelling of one of its identifiers that must be refused."""
    scheme, _, spelling = draw(identifiers)
    how = draw(
        st.sampled_from(
            ["newline", "whitespace", "other digit", "homoglyph", "full-width", "invisible"]
        )
    )
    if how == "newline":
        return scheme, draw(st.sampled_from([spelling + "\n", "\n" + spelling, spelling + "\r\n"]))
    if how == "whitespace":
        blank = draw(st.sampled_from([" ", "\t", "\u00a0", "\u2003", "\u3000"]))
        return scheme, draw(st.sampled_from([spelling + blank, blank + spelling]))
    if how == "invisible":
        at = draw(st.integers(0, len(spelling)))
        return scheme, spelling[:at] + draw(st.sampled_from(INVISIBLE)) + spelling[at:]
    if how == "other digit":
        at = _at(draw, spelling, _ascii_digit)
        digit = chr(draw(st.sampled_from(OTHER_ZEROS)) + int(spelling[at]))
    elif how == "homoglyph":
        at = _at(draw, spelling, lambda c: c in HOMOGLYPHS)
        digit = HOMOGLYPHS[spelling[at]]
    else:
        at = _at(draw, spelling, _ascii_letter)
        digit = chr(ord(spelling[at]) - ord("!") + 0xFF01)  # its full-width form
    return scheme, spelling[:at] + digit + spelling[at + 1 :]


@st.composite
def wrong_check_digits(draw: st.DrawFn) -> str:
    _, number, _ = draw(nhs_numbers())
    last = draw(st.sampled_from([d for d in DIGITS if d != number[-1]]))
    return number[:-1] + last


# --- the parser ---------------------------------------------------------------------------


@given(identifiers)
def test_every_accepted_spelling_of_one_identifier_is_its_canonical_form(
    identifier: Spelled,
) -> None:
    scheme, canonical_form, spelling = identifier
    parsed = SubjectId.parse(scheme, spelling)
    assert parsed == SubjectId.parse(scheme, canonical_form) == SubjectId(scheme, canonical_form)
    assert SubjectId.from_text(str(parsed)) == parsed  # the canonical form is a fixed point


@settings(max_examples=400)
@given(corrupted())
def test_every_other_spelling_is_refused_without_being_quoted(case: tuple[str, str]) -> None:
    scheme, spelling = case
    with pytest.raises(InvalidIdentifier) as refused:
        SubjectId.parse(scheme, spelling)
    assert spelling.strip() not in str(refused.value)


@given(wrong_check_digits())
def test_an_nhs_number_with_a_wrong_check_digit_is_refused(number: str) -> None:
    with pytest.raises(InvalidIdentifier, match="check digit"):
        SubjectId.parse("nhs-number", number)


# --- the published schema -----------------------------------------------------------------


def _published_patterns() -> dict[str, str]:
    """The subject value patterns of the published data-accessed schema, per scheme."""
    name = CATALOGUE["uk.gov.ledger.data-accessed.v1"].schema_file
    schema = json.loads(resources.files("ledger.schemas").joinpath(name).read_text())
    return {
        rule["if"]["properties"]["scheme"]["const"]: rule["then"]["properties"]["value"]["pattern"]
        for rule in schema["$defs"]["subject"]["allOf"]
    }


PATTERNS = _published_patterns()
PYTHON = {scheme: re.compile(p) for scheme, p in PATTERNS.items()}  # as jsonschema: search
ECMA = {scheme: regress.Regex(p) for scheme, p in PATTERNS.items()}  # as other languages


def schema_allows(scheme: str, value: str) -> tuple[bool, bool]:
    """Whether the published pattern allows ``value``: (in Python, in ECMA-262)."""
    return PYTHON[scheme].search(value) is not None, ECMA[scheme].find(value) is not None


@given(identifiers)
def test_the_schema_allows_every_accepted_spelling(identifier: Spelled) -> None:
    scheme, _, spelling = identifier
    assert schema_allows(scheme, spelling) == (True, True)


@settings(max_examples=400)
@given(corrupted())
def test_the_schema_refuses_what_the_parser_refuses_in_python_and_in_ecma(
    case: tuple[str, str],
) -> None:
    assert schema_allows(*case) == (False, False)


@settings(max_examples=400)
@given(st.sampled_from(sorted(SPELLINGS)), st.data())
def test_the_schema_and_the_parser_agree_on_any_text(scheme: str, data: st.DataObject) -> None:
    text = data.draw(
        st.one_of(
            st.from_regex(SPELLINGS[scheme], fullmatch=True),
            st.from_regex(SPELLINGS[scheme]),  # with anything before or after
            st.text(max_size=30),
        ),
        label="text",
    )
    in_python, in_ecma = schema_allows(scheme, text)
    try:
        SubjectId.parse(scheme, text)
    except InvalidIdentifier as exc:
        # Only a check no pattern can express (NHS check digit, NINO prefix) may refuse
        # what the schema allows.
        assert not in_python or re.search("check digit|prefix", str(exc))
    else:
        assert in_python
    assert in_python == in_ecma


# --- the intake ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
KEY = published_test_key()
ACCESS = dict(signed_story())["data-accessed.v1.json"]
KEYRING = Keyring(b"\x0f" * 32)


class Registry:
    """A fake key registry (pure unit tests only)."""

    def key(self, key_id: str) -> RegisteredKey | None:
        registered = RegisteredKey(
            KEY.key_id, KEY.public_key, EXAMPLE_SOURCE, "DWP", frozenset(CATALOGUE), NOW
        )
        return registered if key_id == KEY.key_id else None


INTAKE = Intake(
    Registry(),
    KEYRING,
    max_bytes=65536,
    max_future=timedelta(minutes=5),
    max_past=timedelta(days=30),
    clock=lambda: NOW,
)


def access_about(scheme: str, value: str) -> bytes:
    """The worked data-accessed example, about one subject, signed."""
    data = {**ACCESS["data"], "subjects": [{"scheme": scheme, "value": value}]}
    return canonical(KEY.sign({**ACCESS, "data": data}))


def recorded_keys(raw: bytes) -> list[str]:
    [change] = INTAKE.assess(raw).changes
    assert change.fact is not None
    keys: list[str] = orjson.loads(change.fact.state)["subject_keys"]
    return keys


def refusal(raw: bytes) -> Refusal:
    with pytest.raises(Refusal) as refused:
        INTAKE.assess(raw)
    return refused.value


INTAKE_SETTINGS = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@INTAKE_SETTINGS
@given(identifiers)
def test_the_intake_records_every_spelling_under_the_canonical_pseudonym(
    identifier: Spelled,
) -> None:
    scheme, canonical_form, spelling = identifier
    expected = KEYRING.pseudonymiser.subject_key(SubjectId(scheme, canonical_form))
    assert recorded_keys(access_about(scheme, spelling)) == [expected]


@INTAKE_SETTINGS
@given(corrupted())
def test_the_intake_refuses_a_misspelt_subject_as_a_schema_violation(
    case: tuple[str, str],
) -> None:
    # The schema sees the spelling first: the value's pointer, and never the value.
    scheme, spelling = case
    refused = refusal(access_about(scheme, spelling))
    assert (refused.reason, refused.pointer) == (
        Reason.SCHEMA_VIOLATION,
        "/data/subjects/0/value",
    )
    assert spelling.strip() not in refused.detail


@INTAKE_SETTINGS
@given(wrong_check_digits())
def test_the_intake_refuses_a_wrong_check_digit_as_an_invalid_subject(number: str) -> None:
    # Well spelt, so past the schema; the parser's check names the subject.
    refused = refusal(access_about("nhs-number", number))
    assert (refused.reason, refused.pointer) == (Reason.INVALID_SUBJECT, "/data/subjects/0")
    assert number not in refused.detail


def test_a_nino_with_a_prefix_never_issued_is_an_invalid_subject_at_the_intake() -> None:
    refused = refusal(access_about("nino", "GB123456A"))
    assert (refused.reason, refused.pointer) == (Reason.INVALID_SUBJECT, "/data/subjects/0")
