"""Who may emit: organisations, their services, and the services' signing keys.

A key is valid for events whose ``time`` is before it was retired (by rotation) or
revoked; the ledger checks an event's claimed time against that, so events signed
before a rotation or revocation stay valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import InvariantViolated, natural_id
from ledger.nations import ENGLAND_AND_WALES

Submission = dict[str, Any]


class Organisation(Aggregate):
    """A public body, known by a short code (e.g. ``DWP``), its plain-English name and
    the nation whose law and calendar it works to (one of ``ledger.nations.NATIONS``)."""

    class Registered(Aggregate.Created):
        code: str
        name: str
        submission: Submission | None
        # A default, not an upcast: an event stored before organisations had a nation
        # has no ``nation`` in its state and reads this one.
        nation: str = ENGLAND_AND_WALES

    @staticmethod
    def create_id(code: str) -> UUID:
        return natural_id("organisation", code)

    @event(Registered)
    def __init__(
        self,
        code: str,
        name: str,
        submission: Submission | None = None,
        nation: str = ENGLAND_AND_WALES,
    ) -> None:
        self.code = code
        self.name = name
        self.nation = nation


class KeyNotUsable(InvariantViolated):
    """A key cannot be registered, rotated or revoked in the service's current state."""

    def __init__(self, detail: str) -> None:
        super().__init__("key-state", detail)


class Service(Aggregate):
    """A system of a public body that emits signed events, identified by its ``source``.

    ``keys`` maps each key id to the time it stopped being valid (None while valid).
    """

    class Registered(Aggregate.Created):
        source: str
        organisation: str
        name: str
        event_types: list[str]
        submission: Submission | None

    class KeyRegistered(Aggregate.Event):
        key_id: str
        public_key: str
        valid_from: datetime
        submission: Submission | None

    class KeyRotated(Aggregate.Event):
        old_key_id: str
        key_id: str
        public_key: str
        at: datetime
        submission: Submission | None

    class KeyRevoked(Aggregate.Event):
        key_id: str
        at: datetime
        reason: str
        submission: Submission | None

    @staticmethod
    def create_id(source: str) -> UUID:
        return natural_id("service", source)

    @event(Registered)
    def __init__(
        self,
        source: str,
        organisation: str,
        name: str,
        event_types: list[str],
        submission: Submission | None = None,
    ) -> None:
        self.source = source
        self.organisation = organisation
        self.name = name
        self.event_types = event_types
        self.keys: dict[str, datetime | None] = {}
        self.revoked: set[str] = set()

    def register_key(
        self,
        key_id: str,
        public_key: str,
        valid_from: datetime,
        submission: Submission | None = None,
    ) -> None:
        if key_id in self.keys:
            raise KeyNotUsable(f"key {key_id} is already registered for {self.source}")
        self._key_registered(
            key_id=key_id, public_key=public_key, valid_from=valid_from, submission=submission
        )

    @event(KeyRegistered)
    def _key_registered(
        self, key_id: str, public_key: str, valid_from: datetime, submission: Submission | None
    ) -> None:
        self.keys[key_id] = None

    def rotate_key(
        self,
        old_key_id: str,
        key_id: str,
        public_key: str,
        at: datetime,
        submission: Submission | None = None,
    ) -> None:
        """Replace ``old_key_id`` by a new key from ``at`` on."""
        self._require_current(old_key_id, "rotate")
        if key_id in self.keys:
            raise KeyNotUsable(f"key {key_id} is already registered for {self.source}")
        self._key_rotated(
            old_key_id=old_key_id,
            key_id=key_id,
            public_key=public_key,
            at=at,
            submission=submission,
        )

    @event(KeyRotated)
    def _key_rotated(
        self,
        old_key_id: str,
        key_id: str,
        public_key: str,
        at: datetime,
        submission: Submission | None,
    ) -> None:
        self.keys[old_key_id] = at
        self.keys[key_id] = None

    def revoke_key(
        self, key_id: str, at: datetime, reason: str, submission: Submission | None = None
    ) -> None:
        """Events claiming a time at or after ``at`` signed by this key are refused."""
        if key_id not in self.keys:
            raise KeyNotUsable(f"key {key_id} is not registered for {self.source}")
        if key_id in self.revoked:
            raise KeyNotUsable(f"key {key_id} is already revoked")
        self._key_revoked(key_id=key_id, at=at, reason=reason, submission=submission)

    @event(KeyRevoked)
    def _key_revoked(
        self, key_id: str, at: datetime, reason: str, submission: Submission | None
    ) -> None:
        retired = self.keys[key_id]
        self.keys[key_id] = at if retired is None else min(retired, at)
        self.revoked.add(key_id)

    def _require_current(self, key_id: str, doing: str) -> None:
        if key_id not in self.keys:
            raise KeyNotUsable(f"cannot {doing} key {key_id}: not registered for {self.source}")
        if self.keys[key_id] is not None:
            raise KeyNotUsable(f"cannot {doing} key {key_id}: it is no longer current")
