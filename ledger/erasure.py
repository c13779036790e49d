"""Disposal: the retention schedule and erasure on request, by destroying data keys.

Every personal value of a stored event is sealed under a data key of its subject
(``ledger.vault``). Erasing destroys keys: in one transaction, the keys' rows lose their
wrapped key and their subject's tag, and an :class:`~ledger.domain.erasure.Erasure`
event records which events lost which keys, under which rule, and when. Nothing in the
log changes, so every leaf, proof and signed tree head stays valid; what the keys opened
can never be read again, by anyone.

- **The retention schedule** (``LEDGER_RETENTION``, ``ledger retention run``, daily
  under ``ledger run``): an access or a share is kept for its kind's period from its
  time, or, for a share under an agreement that states a retention period, for that
  period; a consent, objection, request or query is kept, as one record, for its kind's
  period from its last change, and never while a consent or objection is in force.
- **Erasure on request** (UK GDPR Art. 17): a DSAR officer records the decision. Upheld,
  the person's data in their organisation's records is erased: their own key of each
  event, and the key of what the event's subjects share (the envelope names them all);
  the other subjects of a bulk share keep their entry. A consent, objection, request or
  query is erased as a whole record. Refused, the decision and its reason are recorded.
- **Replay** (``ledger retention replay``): a database restored from a backup taken
  before an erasure holds the keys again; the erasure journal (every erasure, signed by
  the log's key, written as it happens) destroys them again.
"""

from __future__ import annotations

import base64
import calendar
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import nacl.exceptions
import nacl.signing
import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from ledger_emitter import canonical
from psycopg.sql import SQL, Composed, Identifier

from ledger.domain.access import DataAccess
from ledger.domain.agreement import DataSharingAgreement
from ledger.domain.anomaly import ResendConflict
from ledger.domain.consent import Consent, Objection
from ledger.domain.dsar import AccessQuery, SubjectAccessRequest
from ledger.domain.erasure import REFUSED, REQUEST, RETENTION, UPHELD, Erasure
from ledger.domain.sharing import DataShare
from ledger.settings import SettingsError

log = logging.getLogger("ledger.erasure")

# The kinds of record the schedule names, by the event that creates them.
ACCESS, SHARE, CONSENT, OBJECTION = "data-accessed", "data-shared", "consent", "objection"
REQUEST_KIND, QUERY, CONFLICT = "subject-access-request", "query", "conflict"
KINDS = (ACCESS, SHARE, CONSENT, OBJECTION, REQUEST_KIND, QUERY, CONFLICT)
_FACTS = {
    get_topic(DataAccess.Recorded): ACCESS,
    get_topic(DataShare.Recorded): SHARE,
    get_topic(ResendConflict.Recorded): CONFLICT,
}


def _events_of(aggregate: type) -> list[type]:
    return [m for m in vars(aggregate).values() if isinstance(m, type) and hasattr(m, "mutate")]


# The kind of record each event of a stateful record belongs to.
_RECORDS = {
    get_topic(e): kind
    for aggregate, kind in (
        (Consent, CONSENT),
        (Objection, OBJECTION),
        (SubjectAccessRequest, REQUEST_KIND),
        (AccessQuery, QUERY),
    )
    for e in _events_of(aggregate)
}
# Events after which a consent or objection is in force: never past retention then.
_IN_FORCE = frozenset(
    get_topic(e)
    for e in (Consent.Given, Consent.Renewed, Consent.GivenAgain, Objection.Set, Objection.SetAgain)
)
ERASURE_TOPIC = get_topic(Erasure.Recorded)
AGREEMENT_TOPICS = frozenset(
    get_topic(e)
    for e in (
        DataSharingAgreement.Registered,
        DataSharingAgreement.Amended,
        DataSharingAgreement.Ended,
    )
)
# Most events one erasure record names (a bulk share names one event, however many
# subjects it concerns).
MAX_EVENTS_PER_ERASURE = 500
_PERIOD = re.compile(
    r"P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)


class RetentionError(SettingsError):
    """A retention schedule or period that does not read."""


@dataclass(frozen=True)
class Period:
    """An ISO 8601 period (``P6Y``, ``P18M``, ``P30D``, ``PT1H``), added to a time the
    way a calendar does: years and months first (the 31st to the last day of a shorter
    month), then weeks, days and time."""

    text: str
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        found = _PERIOD.fullmatch(text.strip().upper())
        if found is None:
            raise RetentionError(f"{text!r} is not an ISO 8601 period such as P6Y or P18M")
        y, mo, w, d, h, mi, se = (int(g) if g else 0 for g in found.groups())
        return cls(text.strip().upper(), y, mo, w, d, h * 3600 + mi * 60 + se)

    def after(self, moment: datetime) -> datetime:
        month = moment.month - 1 + self.months + 12 * self.years
        year, month = moment.year + month // 12, month % 12 + 1
        if year > 9999:
            return datetime.max.replace(tzinfo=moment.tzinfo)
        day = min(moment.day, calendar.monthrange(year, month)[1])
        shifted = moment.replace(year=year, month=month, day=day)
        try:
            return shifted + timedelta(weeks=self.weeks, days=self.days, seconds=self.seconds)
        except OverflowError:
            return datetime.max.replace(tzinfo=moment.tzinfo)


@dataclass(frozen=True)
class Schedule:
    """The retention period of each kind of record (``LEDGER_RETENTION``)."""

    periods: dict[str, Period]

    @classmethod
    def parse(cls, text: str) -> Schedule:
        periods: dict[str, Period] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            kind, sep, period = item.partition("=")
            kind = kind.strip()
            if not sep or kind not in KINDS:
                raise RetentionError(
                    f"LEDGER_RETENTION: {item!r} is not kind=period, with kind one of "
                    + ", ".join(KINDS)
                )
            periods[kind] = Period.parse(period)
        missing = [k for k in KINDS if k not in periods]
        if missing:
            raise RetentionError(f"LEDGER_RETENTION names no period for {', '.join(missing)}")
        return cls(periods)

    def describe(self) -> dict[str, str]:
        return {kind: period.text for kind, period in self.periods.items()}


# The journal: one signed line per erasure, written as it happens, so a database
# restored from an older backup can be made to forget again.


def journal_line(record: dict[str, Any], key: nacl.signing.SigningKey) -> str:
    """A journal line: the erasure's identities and slots, signed by the log's key."""
    body = canonical(record)
    signature = key.sign(body).signature
    return json.dumps({**record, "signature": base64.b64encode(signature).decode()})


def read_journal(
    lines: Iterable[str], verify_key: nacl.signing.VerifyKey
) -> Iterator[dict[str, Any]]:
    """The journal's records, each checked against the log's key; ValueError at the
    first line that is not a record the log signed."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            signature = base64.b64decode(record.pop("signature"), validate=True)
            verify_key.verify(canonical(record), signature)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"journal line {number} is not an erasure record: {exc}") from None
        except nacl.exceptions.BadSignatureError:
            raise ValueError(
                f"journal line {number} is not signed by this ledger's log key"
            ) from None
        yield record


def signed_content(fields: dict[str, Any]) -> bytes:
    """What an erasure event's signature covers: every member but the signature, the
    time as RFC 3339, in RFC 8785 form."""
    content = {k: v for k, v in fields.items() if k != "signature"}
    erased_at = content.get("erased_at")
    if isinstance(erased_at, datetime):
        content["erased_at"] = erased_at.astimezone(UTC).isoformat()
    return canonical(content)


def event_signature_problem(event: Erasure.Recorded, key: nacl.signing.VerifyKey) -> str | None:
    """Why an erasure event does not check against the log's key; None when it does."""
    fields = {
        "rule": event.rule,
        "decision": event.decision,
        "basis": event.basis,
        "reason": event.reason,
        "organisation": event.organisation,
        "reference": event.reference,
        "officer_key": event.officer_key,
        "erased_at": event.erased_at,
        "erased": event.erased,
        "tombstones": event.tombstones,
    }
    try:
        key.verify(signed_content(fields), base64.b64decode(event.signature, validate=True))
    except (ValueError, TypeError, nacl.exceptions.BadSignatureError):
        return "its signature is not the log's over what it records"
    return None


@dataclass
class Target:
    """One event to erase: which of its keys go, whether that is all it holds, and whose
    timeline entries become "details removed"."""

    position: int
    originator_id: UUID
    originator_version: int
    occurred_at: datetime
    slots: list[str]
    whole: bool
    tags: list[bytes] = field(default_factory=list)

    @property
    def identity(self) -> str:
        return f"{self.originator_id}/{self.originator_version}"


@dataclass
class Erased:
    """What an erasure (or a run of the schedule) did."""

    erasures: list[int] = field(default_factory=list)  # positions of the erasure events
    events: int = 0
    keys: int = 0
    refused: bool = False


@dataclass
class _Live:
    """An event with live keys, as the scan reads it."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    slots: dict[str, bytes | None]  # live slot -> its subject's tag


class Eraser:
    """Applies the retention schedule, erasure decisions and the journal to one ledger."""

    def __init__(
        self,
        ledger: Any,
        keyring: Any,
        database_url: str,
        journal: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledger = ledger
        self.vault = keyring.vault()
        self.signing_key: nacl.signing.SigningKey = keyring.log_signing_key
        self.database_url = database_url
        self.journal = journal
        self.clock = clock
        recorder = ledger.ledger_recorder
        schema = Identifier(recorder.datastore.schema)
        self._events = SQL("{0}.{1}").format(schema, Identifier(recorder.events_table_name))
        self._keys = SQL("{0}.{1}").format(schema, recorder.data_keys_table)

    # Reading.

    def _live(
        self, conn: psycopg.Connection[Any], where: SQL | Composed, params: Sequence[Any]
    ) -> list[_Live]:
        rows = conn.execute(
            SQL(
                "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
                "e.state, array_agg(k.slot), array_agg(k.subject_tag) "
                "FROM {keys} k JOIN {events} e USING (originator_id, originator_version) "
                "WHERE k.wrapped IS NOT NULL AND ({where}) "
                "GROUP BY e.originator_id, e.originator_version ORDER BY e.notification_id"
            ).format(keys=self._keys, events=self._events, where=where),
            params,
        ).fetchall()
        return [
            _Live(
                r[0],
                r[1],
                r[2],
                r[3],
                bytes(r[4]),
                {s: None if t is None else bytes(t) for s, t in zip(r[5], r[6], strict=True)},
            )
            for r in rows
        ]

    def _event(self, live: _Live) -> Any:
        """The event as stored (its personal values still sealed: only the others are read)."""
        stored = StoredEvent(live.originator_id, live.originator_version, live.topic, live.state)
        return self.ledger.mapper.to_domain_event(stored)

    def _agreement_periods(self, conn: psycopg.Connection[Any]) -> dict[str, Period]:
        """The retention period each agreement states (its latest terms), by reference."""
        periods: dict[str, Period] = {}
        rows = conn.execute(
            SQL(
                "SELECT originator_id, originator_version, topic, state FROM {events} "
                "WHERE topic = ANY(%s) ORDER BY notification_id"
            ).format(events=self._events),
            (sorted(AGREEMENT_TOPICS),),
        ).fetchall()
        references: dict[UUID, str] = {}
        for oid, version, topic, state in rows:
            event = self.ledger.mapper.to_domain_event(StoredEvent(oid, version, topic, state))
            if isinstance(event, DataSharingAgreement.Registered):
                references[oid] = event.reference
            terms = getattr(event, "terms", None)
            reference = references.get(oid)
            if reference is None or not isinstance(terms, dict):
                continue
            retention = terms.get("retention")
            text = retention.get("period") if isinstance(retention, dict) else None
            if isinstance(text, str):
                try:
                    periods[reference] = Period.parse(text)
                except RetentionError:
                    log.warning(
                        "agreement %s states a period that does not read: %r", reference, text
                    )
        return periods

    # The retention schedule.

    def due(self, schedule: Schedule, now: datetime | None = None) -> list[Target]:
        """Every event whose personal data is past retention at ``now``."""
        now = now or self.clock()
        with psycopg.connect(self.database_url) as conn:
            agreements = self._agreement_periods(conn)
            live = self._live(conn, SQL("true"), ())
        targets: list[Target] = []
        records: dict[UUID, list[tuple[_Live, Any]]] = {}
        for item in live:
            if item.topic in _FACTS:
                event = self._event(item)
                kind = _FACTS[item.topic]
                moment = getattr(event, "occurred_at", None) or event.received_at
                period = schedule.periods[kind]
                agreement = getattr(event, "agreement", None)
                if kind == SHARE and agreement in agreements:
                    period = agreements[agreement]
                if period.after(moment) <= now:
                    targets.append(self._whole(item, moment, _tags(item.slots.values())))
            elif item.topic in _RECORDS:
                records.setdefault(item.originator_id, []).append((item, self._event(item)))
        for events in records.values():
            last_item, last = events[-1]
            kind = _RECORDS[last_item.topic]
            if last_item.topic in _IN_FORCE:
                continue
            if schedule.periods[kind].after(last.timestamp) > now:
                continue
            tags = _tags(t for item, _ in events for t in item.slots.values())
            for item, event in events:
                targets.append(self._whole(item, _when(event), tags))
        targets.sort(key=lambda t: t.position)
        return targets

    def _whole(self, item: _Live, moment: datetime, tags: list[bytes]) -> Target:
        return Target(
            item.position,
            item.originator_id,
            item.originator_version,
            moment,
            sorted(item.slots),
            True,
            tags,
        )

    def apply_schedule(self, schedule: Schedule, now: datetime | None = None) -> Erased:
        """Erase everything past retention; what was erased."""
        now = now or self.clock()
        targets = self.due(schedule, now)
        basis = "the retention schedule: " + ", ".join(
            f"{kind} {period}" for kind, period in schedule.describe().items()
        )
        return self._erase(targets, RETENTION, None, basis, None, None, None, None, now)

    # Erasure on request.

    def request_targets(self, pseudonym: str, organisation: str) -> list[Target]:
        """What an upheld erasure request of one person to one organisation erases."""
        tag = self.vault.tag(pseudonym)
        with psycopg.connect(self.database_url) as conn:
            named = self._live(
                conn,
                SQL(
                    "(e.originator_id, e.originator_version) IN (SELECT originator_id, "
                    "originator_version FROM {keys} WHERE subject_tag = %s)"
                ).format(keys=self._keys),
                (tag,),
            )
            targets: list[Target] = []
            whole_records: list[UUID] = []
            for item in named:
                event = self._event(item)
                if organisation_of(event) != organisation:
                    continue
                if item.topic in _FACTS:
                    mine = [s for s, t in item.slots.items() if t == tag]
                    slots = sorted(item.slots) if "s0" in mine and len(item.slots) == 1 else mine
                    if "e" in item.slots:
                        slots = sorted({*slots, "e"})
                    whole = set(slots) == set(item.slots)
                    moment = getattr(event, "occurred_at", None) or event.received_at
                    targets.append(
                        Target(
                            item.position,
                            item.originator_id,
                            item.originator_version,
                            moment,
                            slots,
                            whole,
                            [tag],
                        )
                    )
                elif item.topic in _RECORDS:
                    whole_records.append(item.originator_id)
            if whole_records:
                for item in self._live(conn, SQL("e.originator_id = ANY(%s)"), (whole_records,)):
                    targets.append(self._whole(item, _when(self._event(item)), [tag]))
        targets.sort(key=lambda t: t.position)
        return targets

    def decide(
        self,
        pseudonym: str,
        organisation: str,
        decision: str,
        basis: str,
        reason: str | None,
        reference: str | None,
        officer_key: str | None,
    ) -> Erased:
        """Record an officer's decision on an erasure request; upheld, erase."""
        now = self.clock()
        if decision == REFUSED:
            done = self._erase(
                [], REQUEST, REFUSED, basis, reason, organisation, reference, officer_key, now
            )
            done.refused = True
            return done
        if decision != UPHELD:
            raise ValueError(f"a decision is {UPHELD} or {REFUSED}, not {decision!r}")
        targets = self.request_targets(pseudonym, organisation)
        return self._erase(
            targets, REQUEST, UPHELD, basis, reason, organisation, reference, officer_key, now
        )

    # Replay.

    def replay(self, records: Iterable[dict[str, Any]]) -> Erased:
        """Destroy again, in this database, the keys the journal's erasures destroyed."""
        done = Erased()
        for record in records:
            keys = [tuple(k) for k in record.get("keys", [])]
            wanted: dict[tuple[str, int], set[str]] = {}
            for oid, version, slot in keys:
                wanted.setdefault((str(oid), int(version)), set()).add(str(slot))
            if not wanted:
                continue
            with psycopg.connect(self.database_url) as conn:
                live = self._live(
                    conn,
                    SQL(
                        "(e.originator_id, e.originator_version) IN (SELECT * FROM "
                        "unnest(%s::uuid[], %s::int8[]))"
                    ),
                    ([UUID(o) for o, _ in wanted], [v for _, v in wanted]),
                )
            targets = []
            for item in live:
                slots = sorted(
                    wanted[(str(item.originator_id), item.originator_version)] & set(item.slots)
                )
                if not slots:
                    continue
                event = self._event(item)
                targets.append(
                    Target(
                        item.position,
                        item.originator_id,
                        item.originator_version,
                        _when(event),
                        slots,
                        set(slots) == set(item.slots),
                        _tags(item.slots[s] for s in slots),
                    )
                )
            basis = (
                f"replay of the erasure recorded at {record.get('erased_at')} "
                f"(erasure {record.get('erasure')}) in a database restored from a backup"
            )
            step = self._erase(
                targets,
                str(record.get("rule")),
                record.get("decision"),
                basis,
                None,
                record.get("organisation"),
                None,
                None,
                self.clock(),
                journal=False,
            )
            done.erasures += step.erasures
            done.events += step.events
            done.keys += step.keys
        return done

    # Recording.

    def _erase(
        self,
        targets: Sequence[Target],
        rule: str,
        decision: str | None,
        basis: str,
        reason: str | None,
        organisation: str | None,
        reference: str | None,
        officer_key: str | None,
        now: datetime,
        journal: bool = True,
    ) -> Erased:
        done = Erased()
        chunks = [
            list(targets[i : i + MAX_EVENTS_PER_ERASURE])
            for i in range(0, len(targets), MAX_EVENTS_PER_ERASURE)
        ] or ([[]] if rule == REQUEST and decision is not None else [])
        for chunk in chunks:
            fields: dict[str, Any] = {
                "rule": rule,
                "decision": decision,
                "basis": basis,
                "reason": reason,
                "organisation": organisation,
                "reference": reference,
                "officer_key": officer_key,
                "erased_at": now,
                "erased": [
                    {
                        "position": t.position,
                        "event": t.identity,
                        "slots": t.slots,
                        "whole": t.whole,
                        "occurred_at": t.occurred_at.astimezone(UTC).isoformat(),
                    }
                    for t in chunk
                ],
                "tombstones": [[tag.hex() for tag in t.tags] for t in chunk],
            }
            signature = self.signing_key.sign(signed_content(fields)).signature
            erasure = Erasure(**fields, signature=base64.b64encode(signature).decode())
            keys = [(t.originator_id, t.originator_version, s) for t in chunk for s in t.slots]
            positions = self.ledger.save_batch([erasure], destroy=(erasure.id, keys))
            position = positions[(erasure.id, 1)]
            done.erasures.append(position)
            done.events += len(chunk)
            done.keys += len(keys)
            log.info(
                "erasure at position %s (%s%s): %s events, %s keys destroyed",
                position,
                rule,
                f", {decision}" if decision else "",
                len(chunk),
                len(keys),
            )
            if journal and self.journal is not None:
                record = {
                    "erasure": str(erasure.id),
                    "position": position,
                    "rule": rule,
                    "decision": decision,
                    "organisation": organisation,
                    "erased_at": now.astimezone(UTC).isoformat(),
                    "keys": [[str(o), v, s] for o, v, s in keys],
                }
                self.journal.parent.mkdir(parents=True, exist_ok=True)
                with self.journal.open("a") as out:
                    out.write(journal_line(record, self.signing_key) + "\n")
        return done


def _tags(values: Iterable[bytes | None]) -> list[bytes]:
    return list(dict.fromkeys(t for t in values if t is not None))


def _when(event: Any) -> datetime:
    """When an event says it happened: a fact's time, a change's ``at``, else recorded."""
    for name in ("occurred_at", "at", "received_at"):
        moment = getattr(event, name, None)
        if isinstance(moment, datetime):
            return moment
    return event.timestamp


def organisation_of(event: Any) -> str | None:
    """The organisation whose record an event is (the one that may erase it)."""
    if isinstance(event, DataShare.Recorded):
        return event.sender if event.reporter == "sender" else event.recipient
    for name in ("organisation", "controller"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            return value
    return None


def journal_from_log(settings: Any, keyring: Any) -> Iterator[str]:
    """The journal of every erasure the log records, signed with the log's key."""
    from ledger.application import Ledger

    ledger = Ledger.from_settings(settings)
    try:
        after = 0
        while True:
            batch = ledger.recorder.select_notifications(after + 1, 1000, topics=[ERASURE_TOPIC])
            for notification in batch:
                event = ledger.mapper.to_domain_event(notification)
                assert isinstance(event, Erasure.Recorded)
                keys = [
                    [*str(item["event"]).split("/"), slot]
                    for item in event.erased
                    for slot in item["slots"]
                ]
                record = {
                    "erasure": str(event.originator_id),
                    "position": notification.id,
                    "rule": event.rule,
                    "decision": event.decision,
                    "organisation": event.organisation,
                    "erased_at": event.erased_at.astimezone(UTC).isoformat(),
                    "keys": [[oid, int(version), slot] for oid, version, slot in keys],
                }
                yield journal_line(record, keyring.log_signing_key)
            if len(batch) < 1000:
                return
            after = batch[-1].id
    finally:
        ledger.close()
