"""The per-citizen timeline: who accessed or received my data, my consents, opt-outs and
requests, one row per citizen and event.

A bulk share concerning 10,000 citizens becomes 10,000 rows (one in each timeline),
written with ``COPY`` in the batch's transaction. Changes to a consent, objection or
request do not name the citizen again; the view remembers whose each one is
(``about``), from the event that created it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic
from psycopg import Connection, Cursor

from ledger.domain.access import DataAccess
from ledger.domain.consent import Consent, Objection
from ledger.domain.dsar import AccessQuery, SubjectAccessRequest
from ledger.domain.erasure import Erasure
from ledger.domain.registry import Organisation
from ledger.domain.sharing import DataShare
from projections.view import Projection

ENTRY_COLUMNS = (
    "subject_key",
    "position",
    "kind",
    "occurred_at",
    "recorded_at",
    "organisation",
    "detail",
    "slot",
)

# Kinds of entry, as the API filters them.
ACCESS, SHARE, CONSENT, OBJECTION, REQUEST, QUERY = (
    "data-accessed",
    "data-shared",
    "consent",
    "objection",
    "subject-access-request",
    "query",
)
# Where an entry was before its details were erased (ledger.erasure): "details removed".
ERASED = "erased"
KINDS = (ACCESS, SHARE, CONSENT, OBJECTION, REQUEST, QUERY, ERASED)
# An erased entry is kept under its subject's tag, never their pseudonym: the reader
# asks for both (``erased_key``).
ERASED_PREFIX = "erased:"

# What each later event of a stateful aggregate means for the citizen (``change``).
CHANGES: dict[type, str] = {
    Consent.Given: "given",
    Consent.Withdrawn: "withdrawn",
    Consent.Expired: "expired",
    Consent.Renewed: "renewed",
    Consent.GivenAgain: "given",
    Objection.Set: "set",
    Objection.Lifted: "lifted",
    Objection.SetAgain: "set",
    SubjectAccessRequest.Received: "received",
    SubjectAccessRequest.IdentityVerified: "identity-verified",
    SubjectAccessRequest.ClarificationRequested: "clarification-requested",
    SubjectAccessRequest.ClarificationReceived: "clarification-received",
    SubjectAccessRequest.Extended: "extended",
    SubjectAccessRequest.Responded: "responded",
    SubjectAccessRequest.Refused: "refused",
    SubjectAccessRequest.Closed: "closed",
    AccessQuery.Raised: "raised",
    AccessQuery.Answered: "answered",
}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class TimelineProjection(Projection):
    """Writes each citizen's timeline from the ledger's events."""

    name = "timeline"
    topics = (
        get_topic(DataAccess.Recorded),
        get_topic(DataShare.Recorded),
        get_topic(Organisation.Registered),
        get_topic(Erasure.Recorded),
        *(get_topic(kind) for kind in CHANGES),
    )
    copy_types = {
        "entries": ("text", "int8", "text", "timestamptz", "timestamptz", "text", "jsonb", "int2")
    }
    tables = (
        "CREATE TABLE IF NOT EXISTS {s}.entries ("
        "subject_key text NOT NULL, position bigint NOT NULL, kind text NOT NULL, "
        "occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL, "
        "organisation text NOT NULL, detail jsonb NOT NULL, "
        # One index, in the order a timeline is read (newest first, scanned backwards);
        # a position is one event, so (subject, position) stays unique through it.
        "PRIMARY KEY (subject_key, occurred_at, position))",
        # Which of its event's subjects an entry is (its index in the event), so erasing
        # one subject of a bulk share removes that subject's entry only.
        "ALTER TABLE {s}.entries ADD COLUMN IF NOT EXISTS slot smallint",
        "CREATE TABLE IF NOT EXISTS {s}.organisations (code text PRIMARY KEY, name text NOT NULL)",
        # Whose consent, objection or request each aggregate is, and what it is about.
        "CREATE TABLE IF NOT EXISTS {s}.about ("
        "originator_id uuid PRIMARY KEY, subject_key text NOT NULL, kind text NOT NULL, "
        "organisation text NOT NULL, detail jsonb NOT NULL)",
    )

    def _entry(
        self,
        subject_keys: Sequence[str | None],
        position: int,
        kind: str,
        occurred_at: datetime,
        recorded_at: datetime,
        organisation: str,
        detail: dict[str, Any],
    ) -> None:
        seen: set[str] = set()
        for slot, key in enumerate(subject_keys):
            if key is None or key in seen:  # erased, or a subject listed twice: one entry
                continue
            seen.add(key)
            self.copy_later(
                "entries",
                ENTRY_COLUMNS,
                (key, position, kind, occurred_at, recorded_at, organisation, detail, slot),
            )

    def outdated(self, conn: Connection[Any]) -> str | None:
        # Before 2026-11-25 the entries had a second index, which every write paid for.
        row = conn.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = 'entries_by_time'",
            (self.schema,),
        ).fetchone()
        return "its entries have a second index that every write pays for" if row else None

    @singledispatchmethod
    def apply(self, event: Any, position: int, curs: Cursor[Any]) -> None:
        """Events of other types change nothing in the timeline."""

    @apply.register
    def _(self, event: DataAccess.Recorded, position: int, curs: Cursor[Any]) -> None:
        detail = {
            "role": event.role,
            "system": event.system,
            "record": event.record,
            "data_categories": event.data_categories,
            "purpose": event.purpose,
            "lawful_basis": event.lawful_basis,
            "action": event.action,
            "break_glass": event.break_glass,
        }
        self._entry(
            event.subject_keys,
            position,
            ACCESS,
            event.occurred_at,
            event.timestamp,
            event.organisation,
            detail,
        )

    @apply.register
    def _(self, event: DataShare.Recorded, position: int, curs: Cursor[Any]) -> None:
        detail = {
            "reporter": event.reporter,
            "sender": event.sender,
            "recipient": event.recipient,
            "data_categories": event.data_categories,
            "purpose": event.purpose,
            "lawful_basis": event.lawful_basis,
            "legal_gateway": event.legal_gateway,
            "agreement": event.agreement,
            "retention": event.retention,
            "international_transfer": event.international_transfer,
            "subject_count": event.subject_count,
        }
        self._entry(
            event.subject_keys,
            position,
            SHARE,
            event.occurred_at,
            event.timestamp,
            event.sender,
            detail,
        )

    @apply.register
    def _(self, event: Organisation.Registered, position: int, curs: Cursor[Any]) -> None:
        curs.execute(
            self.sql(
                "INSERT INTO {s}.organisations (code, name) VALUES (%s, %s) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"
            ),
            (event.code, event.name),
        )

    @apply.register
    def _(self, event: Consent.Given, position: int, curs: Cursor[Any]) -> None:
        self._remember(
            curs,
            event.originator_id,
            event.subject_key,
            CONSENT,
            event.controller,
            {"purpose": event.purpose},
        )
        self._change(curs, event, position, event.at, {"expires_at": _iso(event.expires_at)})

    @apply.register
    def _(self, event: Objection.Set, position: int, curs: Cursor[Any]) -> None:
        self._remember(
            curs,
            event.originator_id,
            event.subject_key,
            OBJECTION,
            event.controller or "",
            {"purpose": event.purpose, "national": event.controller is None},
        )
        self._change(curs, event, position, event.at, {"grounds": event.grounds})

    @apply.register
    def _(self, event: SubjectAccessRequest.Received, position: int, curs: Cursor[Any]) -> None:
        self._remember(
            curs,
            event.originator_id,
            event.subject_key,
            REQUEST,
            event.organisation,
            {"reference": event.reference, "channel": event.channel},
        )
        self._change(curs, event, position, event.at, {})

    @apply.register
    def _(self, event: AccessQuery.Raised, position: int, curs: Cursor[Any]) -> None:
        detail = {"reference": event.reference, "about_position": event.about_position}
        self._remember(
            curs, event.originator_id, event.subject_key, QUERY, event.organisation, detail
        )
        self._change(curs, event, position, event.at, {})

    @apply.register
    def _(self, event: AccessQuery.Answered, position: int, curs: Cursor[Any]) -> None:
        self._change(curs, event, position, event.at, {"explanation": event.explanation})

    @apply.register
    def _(
        self,
        event: Consent.Withdrawn
        | Consent.Expired
        | Consent.Renewed
        | Consent.GivenAgain
        | Objection.Lifted
        | Objection.SetAgain
        | SubjectAccessRequest.IdentityVerified
        | SubjectAccessRequest.ClarificationRequested
        | SubjectAccessRequest.ClarificationReceived
        | SubjectAccessRequest.Extended
        | SubjectAccessRequest.Responded
        | SubjectAccessRequest.Refused
        | SubjectAccessRequest.Closed,
        position: int,
        curs: Cursor[Any],
    ) -> None:
        extra: dict[str, Any] = {}
        if isinstance(event, Consent.Renewed | Consent.GivenAgain):
            extra["expires_at"] = _iso(event.expires_at)
        elif isinstance(event, SubjectAccessRequest.Extended):
            extra = {"months": event.months, "reason": event.reason}
        elif isinstance(event, SubjectAccessRequest.Refused):
            extra = {"refusal": event.refusal}
        self._change(curs, event, position, event.at, extra)

    @apply.register
    def _(self, event: Erasure.Recorded, position: int, curs: Cursor[Any]) -> None:
        """Erased entries go; where each was, its subject's timeline says "details
        removed" (under their tag: the tombstone the erasure keeps)."""
        self.flush(curs)  # entries of this batch, before any is erased
        detail = {
            "erased_at": event.erased_at.isoformat(),
            "rule": event.rule,
            "decision": event.decision,
        }
        records: list[UUID] = []
        tombstones = event.tombstones or []
        for i, item in enumerate(event.erased):
            at = item["position"]
            slots = item["slots"]
            if item["whole"]:
                curs.execute(self.sql("DELETE FROM {s}.entries WHERE position = %s"), (at,))
                records.append(UUID(str(item["event"]).split("/")[0]))
            else:
                subjects = [int(s[1:]) for s in slots if s.startswith("s")]
                curs.execute(
                    self.sql("DELETE FROM {s}.entries WHERE position = %s AND slot = ANY(%s)"),
                    (at, subjects),
                )
                if "e" in slots:  # what the subjects shared is gone for the others too
                    curs.execute(
                        self.sql(
                            "UPDATE {s}.entries SET detail = detail || '{{\"record\": null}}' "
                            "WHERE position = %s AND detail ? 'record'"
                        ),
                        (at,),
                    )
            occurred = datetime.fromisoformat(item["occurred_at"])
            for tag in (tombstones[i] if i < len(tombstones) else None) or ():
                self.copy_later(
                    "entries",
                    ENTRY_COLUMNS,
                    (
                        ERASED_PREFIX + tag,
                        at,
                        ERASED,
                        occurred,
                        event.erased_at,
                        "",
                        detail,
                        None,
                    ),
                )
        if records:
            curs.execute(
                self.sql("DELETE FROM {s}.about WHERE originator_id = ANY(%s)"), (records,)
            )

    def _remember(
        self,
        curs: Cursor[Any],
        originator_id: UUID,
        subject_key: str | None,
        kind: str,
        organisation: str,
        detail: dict[str, Any],
    ) -> None:
        if subject_key is None:  # erased: nothing of this record is shown to anyone
            return
        curs.execute(
            self.sql("INSERT INTO {s}.about VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"),
            (originator_id, subject_key, kind, organisation, _json(detail)),
        )

    def _change(
        self, curs: Cursor[Any], event: Any, position: int, at: datetime, extra: dict[str, Any]
    ) -> None:
        about = curs.execute(
            self.sql(
                "SELECT subject_key, kind, organisation, detail FROM {s}.about "
                "WHERE originator_id = %s"
            ),
            (event.originator_id,),
        ).fetchone()
        if about is None:  # its creation is not in the log: nothing to say to whom
            return
        subject_key, kind, organisation, detail = about
        detail = {**detail, **extra, "change": CHANGES[type(event)]}
        self._entry([subject_key], position, kind, at, event.timestamp, organisation, detail)


def erased_key(tag: bytes) -> str:
    """The key a subject's erased entries are kept under (``ledger.vault.Vault.tag``)."""
    return ERASED_PREFIX + tag.hex()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
