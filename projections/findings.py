"""Compliance findings: recorded facts, flagged, each linked to the event that raised it.

The view keeps its own copy of what the rules need (agreements as they stood, consent
and objection state, which organisations report shares through a registered service),
so it can be rebuilt alone. Findings hold organisations, rules and counts, never a
citizen's key: auditors read them. A ``no-receipt`` finding is raised open when the
sender reports and resolved when the recipient's matching receipt arrives.
"""

from __future__ import annotations

import hashlib
from functools import singledispatchmethod
from typing import Any

import orjson
from eventsourcing.utils import get_topic
from psycopg import Cursor

from ledger.catalogue import DATA_SHARED
from ledger.domain.access import DataAccess
from ledger.domain.anomaly import ResendConflict
from ledger.domain.registry import Service
from ledger.domain.sharing import DataShare
from projections.agreements import AgreementsProjection, in_force, terms_at
from projections.consent import NATIONAL, ConsentProjection
from projections.policy import access_findings, agreement_covers
from projections.view import Projection


def receipt_key(event: DataShare.Recorded) -> str:
    """What the sender's report and the recipient's receipt of one share have in common."""
    if event.part:
        what = f"part:{event.part['share']}:{event.part['index']}"
    elif event.manifest_sha256:
        what = f"manifest:{event.manifest_sha256}"
    else:
        what = "subjects:" + ",".join(sorted({k for k in event.subject_keys if k is not None}))
    text = "\n".join((event.sender, event.recipient, event.purpose["code"], what))
    return hashlib.sha256(text.encode()).hexdigest()


class FindingsProjection(Projection):
    """Writes findings from shares, accesses, and the state the rules need."""

    name = "findings"

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self.agreements = AgreementsProjection(self.schema)
        self.consent = ConsentProjection(self.schema)

    topics = (
        get_topic(DataShare.Recorded),
        get_topic(DataAccess.Recorded),
        get_topic(ResendConflict.Recorded),
        get_topic(Service.Registered),
        *AgreementsProjection.topics,
        *ConsentProjection.topics,
    )
    tables = (
        *AgreementsProjection.tables,
        *ConsentProjection.tables,
        "CREATE TABLE IF NOT EXISTS {s}.findings ("
        "position bigint NOT NULL, rule text NOT NULL, occurred_at timestamptz NOT NULL, "
        "organisation text NOT NULL, counterpart text, subjects integer NOT NULL, "
        "detail text NOT NULL, status text NOT NULL, resolved_by bigint, "
        "PRIMARY KEY (position, rule))",
        "CREATE INDEX IF NOT EXISTS findings_by_time ON {s}.findings (occurred_at DESC)",
        "CREATE TABLE IF NOT EXISTS {s}.sharing_organisations (organisation text PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS {s}.reports (match_key text NOT NULL, reporter text NOT NULL, "
        "position bigint NOT NULL, PRIMARY KEY (match_key, reporter))",
    )

    @singledispatchmethod
    def apply(self, event: Any, position: int, curs: Cursor[Any]) -> None:
        """State the rules need comes from the agreement and consent handlers."""
        self.agreements.apply(event, position, curs)
        self.consent.apply(event, position, curs)

    @apply.register
    def _(self, event: Service.Registered, position: int, curs: Cursor[Any]) -> None:
        if DATA_SHARED in event.event_types:
            curs.execute(
                self.sql(
                    "INSERT INTO {s}.sharing_organisations VALUES (%s) ON CONFLICT DO NOTHING"
                ),
                (event.organisation,),
            )

    @apply.register
    def _(self, event: DataAccess.Recorded, position: int, curs: Cursor[Any]) -> None:
        for rule in access_findings(event.purpose, event.break_glass):
            detail = {"system": event.system, "purpose": event.purpose, "action": event.action}
            self._raise(
                curs,
                position,
                rule,
                event.occurred_at,
                event.organisation,
                None,
                len(event.subject_keys),
                detail,
            )

    @apply.register
    def _(self, event: ResendConflict.Recorded, position: int, curs: Cursor[Any]) -> None:
        detail = {"source": event.source, "event_id": event.event_id}
        self._raise(
            curs,
            position,
            "conflicting-resend",
            event.received_at,
            event.organisation,
            None,
            0,
            detail,
        )

    @apply.register
    def _(self, event: DataShare.Recorded, position: int, curs: Cursor[Any]) -> None:
        purpose = event.purpose["code"]
        count = event.subject_count
        found = (
            terms_at(curs, self.agreements, event.agreement, event.occurred_at)
            if event.agreement
            else None
        )
        terms, ended = found if found else (None, True)
        coverage = agreement_covers(
            terms,
            terms is not None and in_force(terms, ended, event.occurred_at.date()),
            event.sender,
            event.recipient,
            purpose,
            [c["code"] for c in event.data_categories],
        )
        share = {
            "purpose": event.purpose,
            "agreement": event.agreement,
            "legal_gateway": event.legal_gateway,
            "reporter": event.reporter,
        }
        if coverage.problem:
            self._raise(
                curs,
                position,
                coverage.problem,
                event.occurred_at,
                event.sender,
                event.recipient,
                count,
                {**share, "why": coverage.detail},
            )
        keys = [k for k in dict.fromkeys(event.subject_keys) if k is not None]
        if keys and event.lawful_basis.get("article6") == "consent":
            without = len(keys) - self._consenting(curs, keys, event.sender, purpose, event)
            if without:
                self._raise(
                    curs,
                    position,
                    "no-consent",
                    event.occurred_at,
                    event.sender,
                    event.recipient,
                    without,
                    share,
                )
        opted_out = self._opted_out(curs, keys, event.sender, purpose) if keys else 0
        if opted_out:
            self._raise(
                curs,
                position,
                "opted-out",
                event.occurred_at,
                event.sender,
                event.recipient,
                opted_out,
                share,
            )
        self._match_receipt(curs, position, event, count, share)

    def _consenting(
        self, curs: Cursor[Any], keys: list[str], controller: str, purpose: str, event: Any
    ) -> int:
        row = curs.execute(
            self.sql(
                "SELECT count(*) FROM {s}.consents WHERE subject_key = ANY(%s) "
                "AND controller = %s AND purpose_code = %s AND state IN ('given', 'renewed') "
                "AND (expires_at IS NULL OR expires_at > %s)"
            ),
            (keys, controller, purpose, event.occurred_at),
        ).fetchone()
        return int(row[0]) if row else 0

    def _opted_out(self, curs: Cursor[Any], keys: list[str], controller: str, purpose: str) -> int:
        row = curs.execute(
            self.sql(
                "SELECT count(DISTINCT subject_key) FROM {s}.objections "
                "WHERE subject_key = ANY(%s) AND purpose_code = %s AND in_force "
                "AND controller IN (%s, %s)"
            ),
            (keys, purpose, controller, NATIONAL),
        ).fetchone()
        return int(row[0]) if row else 0

    def _match_receipt(
        self, curs: Cursor[Any], position: int, event: Any, count: int, share: dict[str, Any]
    ) -> None:
        key = receipt_key(event)
        curs.execute(
            self.sql("INSERT INTO {s}.reports VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"),
            (key, event.reporter, position),
        )
        other = "recipient" if event.reporter == "sender" else "sender"
        matched = curs.execute(
            self.sql("SELECT position FROM {s}.reports WHERE match_key = %s AND reporter = %s"),
            (key, other),
        ).fetchone()
        if event.reporter == "recipient":
            if matched:
                curs.execute(
                    self.sql(
                        "UPDATE {s}.findings SET status = 'resolved', resolved_by = %s "
                        "WHERE position = %s AND rule = 'no-receipt'"
                    ),
                    (position, matched[0]),
                )
            return
        registered = curs.execute(
            self.sql(
                "SELECT count(*) FROM {s}.sharing_organisations WHERE organisation IN (%s, %s)"
            ),
            (event.sender, event.recipient),
        ).fetchone()
        if not matched and registered and registered[0] == 2:
            self._raise(
                curs,
                position,
                "no-receipt",
                event.occurred_at,
                event.sender,
                event.recipient,
                count,
                share,
            )

    def _raise(
        self,
        curs: Cursor[Any],
        position: int,
        rule: str,
        occurred_at: Any,
        organisation: str,
        counterpart: str | None,
        subjects: int,
        detail: dict[str, Any],
    ) -> None:
        curs.execute(
            self.sql(
                "INSERT INTO {s}.findings VALUES (%s, %s, %s, %s, %s, %s, %s, 'open', NULL) "
                "ON CONFLICT DO NOTHING"
            ),
            (
                position,
                rule,
                occurred_at,
                organisation,
                counterpart,
                subjects,
                orjson.dumps(detail).decode(),
            ),
        )
