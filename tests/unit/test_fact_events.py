"""Facts built directly in stored form are exactly what eventsourcing would store.

The hot path writes a data-accessed or data-shared event without creating the
aggregate (``ledger.catalogue.entry.fact_change``). These tests build the same fact
both ways, through the real catalogue builder and through the aggregate's constructor,
and require the same stored bytes, topic, id and version, and that the stored event
reads back into an aggregate equal to the constructed one.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import uuid4

import orjson
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.catalogue import CATALOGUE, DATA_ACCESSED, DATA_SHARED, Received
from ledger.catalogue.entry import fact_change
from ledger.catalogue.examples import ACCESS, SHARE
from ledger.domain.access import DataAccess
from ledger.domain.sharing import DataShare
from ledger.keyring import Keyring

KEYRING = Keyring(b"\x5a" * 32)
MAPPER = Application().mapper  # POPO application: JSON transcoder, no cipher


def received(type_name: str, data: dict[str, Any], raw: bytes = b"{}") -> Received:
    event = {
        "specversion": "1.0",
        "id": "evt-0001",
        "source": "urn:ledger:service:dwp:test",
        "type": type_name,
        "time": "2026-11-02T09:00:00Z",
        "data": data,
    }
    return Received(
        event,
        raw,
        hashlib.sha256(raw).hexdigest(),
        datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC),
        "DWP",
        KEYRING.seal(raw),
    )


def built_both_ways(
    type_name: str, aggregate: type[Aggregate], data: dict[str, Any]
) -> tuple[StoredEvent, StoredEvent]:
    """(the catalogue's fact, the mapper's stored event of the constructed aggregate)."""
    (change,) = CATALOGUE[type_name].build(received(type_name, data), KEYRING)
    fact = change.fact
    assert fact is not None and change.apply is None
    fields = orjson.loads(fact.state)
    del fields["timestamp"], fields["originator_topic"]
    fields["occurred_at"] = datetime.fromisoformat(fields["occurred_at"]["_data_"])
    constructed = aggregate(**fields)
    (created,) = constructed.collect_events()
    # The one thing that differs: when each was created. Use the fact's.
    object.__setattr__(created, "timestamp", MAPPER.to_domain_event(fact).timestamp)
    return fact, MAPPER.to_stored_event(created)


CASES = [(DATA_ACCESSED, DataAccess, ACCESS), (DATA_SHARED, DataShare, SHARE)]


@pytest.mark.parametrize(("type_name", "aggregate", "data"), CASES)
def test_a_fact_is_stored_exactly_as_its_aggregate_would_be(
    type_name: str, aggregate: type[Aggregate], data: dict[str, Any]
) -> None:
    fact, expected = built_both_ways(type_name, aggregate, data)
    assert fact.topic == expected.topic
    assert fact.originator_id == expected.originator_id
    assert fact.originator_version == expected.originator_version == 1
    assert fact.state == expected.state


@pytest.mark.parametrize(("type_name", "aggregate", "data"), CASES)
def test_the_fields_follow_the_constructor(
    type_name: str, aggregate: type[Aggregate], data: dict[str, Any]
) -> None:
    (change,) = CATALOGUE[type_name].build(received(type_name, data), KEYRING)
    assert change.fact is not None
    names = list(orjson.loads(change.fact.state))
    parameters = list(inspect.signature(aggregate.__init__).parameters)[1:]
    assert names == ["timestamp", "originator_topic", *parameters]


@pytest.mark.parametrize(("type_name", "aggregate", "data"), CASES)
def test_a_stored_fact_reads_back_as_the_aggregate(
    type_name: str, aggregate: type[Aggregate], data: dict[str, Any]
) -> None:
    fact, _ = built_both_ways(type_name, aggregate, data)
    event = MAPPER.to_domain_event(fact)
    rebuilt = event.mutate(None)
    assert isinstance(rebuilt, aggregate)
    assert rebuilt.id == fact.originator_id
    assert rebuilt.version == 1
    assert rebuilt.occurred_at == datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC)  # type: ignore[attr-defined]


# Any text a service may send: controls, quotes, backslashes, U+2028, non-ASCII, astral.
TEXT = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() != "")


@settings(max_examples=300, deadline=None)
@given(record=TEXT, role=TEXT, official=st.none() | TEXT, text=TEXT)
def test_any_text_is_stored_exactly_as_the_aggregate_would_store_it(
    record: str, role: str, official: str | None, text: str
) -> None:
    data = copy.deepcopy(ACCESS)
    data["record"] = record
    data["accessor"]["role"] = role
    if official is None:
        del data["accessor"]["official"]
    else:
        data["accessor"]["official"] = official
    data["purpose"]["text"] = text
    fact, expected = built_both_ways(DATA_ACCESSED, DataAccess, data)
    assert fact.state == expected.state


class _Noted(Aggregate):
    """An aggregate with datetimes below the top level of its created event."""

    @event("Recorded")
    def __init__(self, at: datetime, notes: dict[str, Any], times: list[Any]) -> None:
        self.at, self.notes, self.times = at, notes, times


def test_datetimes_at_any_depth_are_transcoded_as_eventsourcing_does() -> None:
    at = datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC)
    fields: dict[str, Any] = {
        "at": at,
        "notes": {"when": at, "inner": [{"since": at.replace(microsecond=0)}]},
        "times": [at, "text", 3],
    }
    change = fact_change(_Noted, _Noted.Recorded, uuid4(), **copy.deepcopy(fields))
    assert change.fact is not None
    (created,) = _Noted(**copy.deepcopy(fields)).collect_events()
    object.__setattr__(created, "timestamp", MAPPER.to_domain_event(change.fact).timestamp)
    assert change.fact.state == MAPPER.to_stored_event(created).state


@pytest.mark.parametrize("value", [date(2026, 11, 2), time(9, 0), object()])
def test_what_the_transcoder_cannot_write_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        fact_change(_Noted, _Noted.Recorded, uuid4(), at=value, notes={}, times=[])
