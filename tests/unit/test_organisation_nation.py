"""An organisation is registered with the nation whose law and bank holidays it works
to; one registered before organisations had a nation is in England and Wales."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import Mapper, StoredEvent

from ledger.catalogue import CATALOGUE, ORGANISATION_REGISTERED, Received, schema_errors
from ledger.catalogue.examples import signed_story
from ledger.domain.registry import Organisation
from ledger.keyring import Keyring
from ledger.nations import NATIONS
from ledger.transcoding import ledger_transcoder

KEYRING = Keyring(b"\x07" * 32)


def _registration(**organisation: Any) -> dict[str, Any]:
    (event,) = [e for _, e in signed_story() if e["type"] == ORGANISATION_REGISTERED]
    event = copy.deepcopy(event)
    event["data"]["organisation"] = {"code": "NIHE", "name": "the Housing Executive"}
    event["data"]["organisation"].update(organisation)
    return event


def _registered(event: dict[str, Any]) -> Organisation.Registered:
    """The domain event the catalogue makes of a verified registration."""
    raw = orjson.dumps(event)
    received = Received(
        event=event,
        raw=raw,
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        occurred_at=datetime(2026, 3, 3, tzinfo=UTC),
        signer_organisation="*",
        raw_sealed=KEYRING.seal(raw),
    )
    (change,) = CATALOGUE[ORGANISATION_REGISTERED].build(received, KEYRING)
    assert change.apply is not None
    organisation = change.apply(None)
    (created,) = organisation.collect_events()
    assert isinstance(created, Organisation.Registered)
    return created


@pytest.mark.parametrize("nation", NATIONS)
def test_each_of_the_three_nations_is_accepted_and_kept(nation: str) -> None:
    event = _registration(nation=nation)

    assert schema_errors(ORGANISATION_REGISTERED, event) == []
    assert _registered(event).nation == nation


@pytest.mark.parametrize("nation", ["wales", "England-and-Wales", "", "uk", 1, None])
def test_anything_else_is_refused_by_the_schema(nation: Any) -> None:
    (error,) = schema_errors(ORGANISATION_REGISTERED, _registration(nation=nation))

    assert list(error.absolute_path) == ["data", "organisation", "nation"]


def test_a_registration_without_a_nation_is_in_england_and_wales() -> None:
    event = _registration()

    assert schema_errors(ORGANISATION_REGISTERED, event) == []
    assert _registered(event).nation == "england-and-wales"


def test_the_schema_says_what_an_absent_nation_means() -> None:
    schema = CATALOGUE[ORGANISATION_REGISTERED].data_schema
    nation = schema["properties"]["organisation"]["properties"]["nation"]

    assert nation["enum"] == ["england-and-wales", "scotland", "northern-ireland"]
    assert "Absent means england-and-wales" in nation["description"]


def test_an_organisation_stored_before_nations_loads_in_england_and_wales() -> None:
    mapper: Mapper[Any] = Mapper(transcoder=ledger_transcoder())
    stored = mapper.to_stored_event(_registered(_registration(nation="scotland")))
    state = orjson.loads(stored.state)
    del state["nation"]  # as every registration was stored before
    old = StoredEvent(stored.originator_id, 1, stored.topic, orjson.dumps(state))

    event = mapper.to_domain_event(old)
    organisation = Organisation.Registered.mutate(event, None)  # type: ignore[arg-type]

    assert isinstance(event, Organisation.Registered) and event.nation == "england-and-wales"
    assert isinstance(organisation, Organisation)
    assert (organisation.code, organisation.nation) == ("NIHE", "england-and-wales")
