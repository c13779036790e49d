"""Canonical JSON is RFC 8785, on the fast path and off it.

The property tests against the reference implementation, over any JSON, are in the
ledger's ``tests/unit/test_canonical_fast_path.py``, beside the ledger's fast parse.
"""

from __future__ import annotations

import json

import pytest
from ledger_emitter import canonical
from ledger_emitter.jcs import _plain


def test_canonical_json_follows_rfc_8785() -> None:
    # RFC 8785 section 3.2.3's sorting example, and its number serialisation.
    value = json.loads(
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "1": "One", '
        '"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}'
    )
    assert (
        canonical(value)
        == (
            '{"\\r":"Carriage Return","1":"One",'
            '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"\u20ac":"Euro Sign"}'
        ).encode()
    )


def test_an_event_of_strings_and_small_integers_takes_the_fast_path() -> None:
    event = {"id": "e-1", "data": {"count": 2**53 - 1, "ok": True, "none": None, "list": []}}
    assert _plain(event)
    assert canonical(event) == (
        b'{"data":{"count":9007199254740991,"list":[],"none":null,"ok":true},"id":"e-1"}'
    )


def test_floats_big_integers_and_non_ascii_names_take_the_reference_path() -> None:
    value = {"a": 1.5, "b": 1e21, "\u00e9": 1}
    assert not _plain(value)
    assert canonical(value) == '{"a":1.5,"b":1e+21,"\u00e9":1}'.encode()
    # Beyond 2^53 an integer has no exact JSON number in RFC 8785: refused, not rounded.
    assert not _plain({"a": 2**53})
    with pytest.raises(ValueError, match="safe integer"):
        canonical({"a": 2**53})
