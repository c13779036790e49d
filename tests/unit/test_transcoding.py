"""The ledger's transcoder reads back exactly what eventsourcing's JSONTranscoder reads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import TranscodingNotRegisteredError
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.transcoding import ledger_transcoder

REFERENCE = Application().mapper.transcoder  # eventsourcing's own, with its transcodings
OURS = ledger_transcoder()

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those, the standard path reads them
    | st.floats(allow_nan=False)  # infinities: written as Infinity, read by the standard path
    | st.text()  # lone surrogates cannot be encoded as UTF-8 by either: filtered below
    | st.datetimes(timezones=st.just(UTC))
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=16,
)


def encoded(value: Any) -> bytes | None:
    try:
        return REFERENCE.encode(value)
    except UnicodeEncodeError:
        return None


@settings(max_examples=2000, deadline=None)
@given(VALUES)
def test_decoding_agrees_with_eventsourcing(value: Any) -> None:
    data = encoded(value)
    if data is None:
        return
    assert OURS.decode(data) == REFERENCE.decode(data)


def test_a_ledger_event_state_reads_back_with_its_types() -> None:
    state = {
        "timestamp": datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
        "originator_topic": "ledger.domain.access:DataAccess",
        "ids": [UUID(int=7), {"nested": Decimal("1.50")}],
        "data_categories": [{"code": "benefits", "text": "your benefit claim"}],
    }
    decoded = OURS.decode(REFERENCE.encode(state))
    assert decoded == state
    assert type(decoded["ids"][0]) is UUID and type(decoded["ids"][1]["nested"]) is Decimal


def test_the_encoding_is_eventsourcings() -> None:
    value = {"at": datetime(2026, 1, 1, tzinfo=UTC), "n": [1, "é"]}
    assert OURS.encode(value) == REFERENCE.encode(value)


def test_an_escaped_type_name_is_not_missed() -> None:
    # The fast path counts '"_type_"' in the text to know nothing below the top level
    # needs reviving; a name written with an escape is not counted, so such a document
    # must take the full path (here the nested object is revived too).
    data = (
        b'{"at":{"_type_":"datetime_iso","_data_":"2026-11-25T14:00:00+00:00"},'
        b'"inner":{"x":{"\\u005ftype_":"uuid_hex","_data_":"' + b"0" * 31 + b'7"}}}'
    )
    assert OURS.decode(data) == REFERENCE.decode(data)
    assert OURS.decode(data)["inner"]["x"] == UUID(int=7)


def test_an_unknown_type_name_is_refused_as_eventsourcing_refuses_it() -> None:
    data = b'{"at":{"_type_":"no-such-type","_data_":"x"}}'
    for transcoder in (OURS, REFERENCE):
        with pytest.raises(TranscodingNotRegisteredError, match="no-such-type"):
            transcoder.decode(data)
