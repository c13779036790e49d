"""ledger.events records are keyed by subject, so one citizen's events keep their order."""

from __future__ import annotations

import json
from uuid import uuid4

from eventsourcing.persistence import Notification

from publishers.outbox import _subject_key


def notification(state: dict[str, object] | bytes) -> Notification:
    raw = state if isinstance(state, bytes) else json.dumps(state).encode()
    return Notification(id=7, originator_id=uuid4(), originator_version=1, topic="t", state=raw)


def test_a_fact_is_keyed_by_its_first_subject() -> None:
    assert _subject_key(notification({"subject_keys": ["a1", "b2"]})) == b"a1"


def test_a_stateful_event_is_keyed_by_its_subject() -> None:
    assert _subject_key(notification({"subject_key": "c3"})) == b"c3"


def test_an_event_about_no_subject_is_keyed_by_its_aggregate() -> None:
    event = notification({"code": "DWP"})
    assert _subject_key(event) == str(event.originator_id).encode()
    undecodable = notification(b"\x00not json")
    assert _subject_key(undecodable) == str(undecodable.originator_id).encode()
