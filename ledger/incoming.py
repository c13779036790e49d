"""What enters the one write path, and what comes out of it. Pure values.

Both entry points only translate: a Kafka record or an HTTP body becomes an
:class:`Incoming` (the bytes and where they came from), handed to
:meth:`ledger.writing.WritePath.submit`, which answers an :class:`Outcome` for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.positions import stream_name
from ledger.refusals import Refusal

KAFKA, HTTP, DIRECT = "kafka", "http", "direct"


@dataclass(frozen=True, slots=True)
class KafkaPosition:
    """A record's place in Kafka. ``incarnation`` names the topic's life (its topic id,
    or an epoch the ledger recorded when it created it), so the offsets of a topic
    deleted and created again, which start from 0 again, never meet the old ones."""

    topic: str
    incarnation: str
    partition: int
    offset: int

    @property
    def stream(self) -> str:
        """The name the ledger tracks this partition's position under."""
        return stream_name(self.topic, self.incarnation, self.partition)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request to ``POST /v1/events``, by an authenticated caller."""

    request_id: str
    organisation: str  # the organisation the bearer token speaks for
    caller: str  # the token's subject

    @property
    def who(self) -> str:
        return f"{self.organisation}/{self.caller}"


@dataclass(frozen=True, slots=True)
class Direct:
    """Handed over in-process (tests, tools): no channel position to track."""


Origin = KafkaPosition | HttpRequest | Direct


@dataclass(frozen=True, slots=True)
class Incoming:
    """Bytes a service sent, and where they came from.

    ``size`` is the size of the whole submission when ``raw`` holds only its first
    bytes (an HTTP body cut off once it passed the limit); None when ``raw`` is whole.
    """

    raw: bytes
    origin: Origin
    size: int | None = None

    @property
    def channel(self) -> str:
        origin = self.origin
        return (
            KAFKA
            if isinstance(origin, KafkaPosition)
            else HTTP
            if isinstance(origin, HttpRequest)
            else DIRECT
        )


class Status(StrEnum):
    RECORDED = "recorded"  # appended now
    DUPLICATE = "duplicate"  # the same event was recorded before: its original position
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one incoming submission."""

    status: Status
    position: int | None = None  # ledger position, recorded or original
    source: str | None = None
    event_id: str | None = None
    refusal: Refusal | None = None
