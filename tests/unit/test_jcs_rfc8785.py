"""RFC 8785 (JCS) canonical JSON, checked against the RFC's own published examples: the
canonical form of section 3.2.2, the sorting of section 3.2.3 and every number of
Appendix B (IEEE 754 bit patterns and their ECMAScript serialisation). Consent receipts
and response bundles are signed over these bytes, so a verifier in any language that
implements RFC 8785 gets the same."""

from __future__ import annotations

import json
import math
import struct

import pytest
import rfc8785
from ledger_emitter import canonical

# RFC 8785 Appendix B: IEEE 754 double (hex) -> its JSON serialisation.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_every_number_of_appendix_b_serialises_as_published(bits: str, expected: str) -> None:
    assert canonical(_double(bits)) == expected.encode()
    assert canonical([_double(bits)]) == f"[{expected}]".encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_have_no_canonical_form(bits: str) -> None:
    value = _double(bits)
    assert math.isnan(value) or math.isinf(value)
    with pytest.raises(rfc8785.FloatDomainError):
        canonical({"n": value})


def test_the_example_of_section_3_2_2() -> None:
    # The input exactly as RFC 8785 prints it (numbers as written, JSON escapes).
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical(json.loads(text)) == expected.encode("utf-8")


def test_the_sorting_of_section_3_2_3_is_by_utf16_code_units() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    names = list(json.loads(canonical(value)))
    # U+1F600 is the surrogate pair D83D DE00: before U+FB33 in UTF-16, after it by code point.
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_integers_within_the_safe_range_are_plain_and_beyond_it_are_refused() -> None:
    assert canonical({"b": 2, "a": -(2**53 - 1)}) == b'{"a":-9007199254740991,"b":2}'
    # JCS numbers are IEEE doubles: 2**53 + 1 has none of its own, and is refused rather
    # than signed as another number (RFC 8785 section 3.2.2.3 leaves such values out).
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical(2**53 + 1)
