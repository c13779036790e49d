"""The search behind a subject access response: a person's records that involve one
organisation, gathered with their proofs and built into a signed bundle.

What a reasonable and proportionate search of the ledger finds for (person, organisation)
is the person's timeline (``timeline.entries``) narrowed to that organisation, as the
citizen's own timeline narrows it: accesses by it, shares it sent or received, consents
and objections with it as controller (a national opt-out names no controller, so it is
no organisation's), and requests made to it. The case may narrow it further by kind and
by day (UK time).

The bundle is proved against the newest signed tree head. A record the sealer has not
sealed into it yet (the sealer signs a head every second or so) is left out, counted,
and the bundle says so: the search is as of that signed head, which the bundle names.
The caller may assemble again a moment later to include it.

Everything is read in a few set-based queries, whatever the number of records: the
entries, their events, their leaves, and the Merkle nodes of every proof at once
(:func:`ledger.transparency.reader.inclusion_paths`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import Connection

from ledger.collector import paused
from ledger.dsar.bundle import Case, Controller, ResponseBundle, SubjectItem, build_bundle
from ledger.dsar.redaction import RedactionDecision
from ledger.keyring import Keyring
from ledger.transparency import store
from ledger.transparency.checkpoint import LogSigner
from ledger.transparency.leaves import EventRow
from ledger.transparency.reader import LogLookupError, LogReader, disclose, inclusion_paths
from projections import wording
from projections.timeline import ACCESS, SHARE

_ENTRIES = (
    "SELECT position, kind, occurred_at, recorded_at, organisation, detail "
    "FROM timeline.entries WHERE subject_key = %(subject)s "
    "AND (organisation = %(org)s OR (kind = %(share)s AND detail->>'recipient' = %(org)s)) "
    "AND kind = ANY(%(kinds)s) "
    "AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s) "
    "AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s) "
    "ORDER BY occurred_at DESC, position DESC"
)


def _day_start(day: date | None) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=wording.UK).astimezone(UTC)


def search(
    conn: Connection[Any], subject_key: str, organisation: str, case: Case
) -> list[tuple[Any, ...]]:
    """The person's timeline entries that involve ``organisation``, within the case's
    kinds and days: (position, kind, occurred_at, recorded_at, organisation, detail)."""
    params = {
        "subject": subject_key,
        "org": organisation,
        "share": SHARE,
        "kinds": list(case.kinds),
        "since": _day_start(case.since),
        "until": _day_start(case.until + timedelta(days=1)) if case.until else None,
    }
    return conn.execute(_ENTRIES, params).fetchall()


def _names(conn: Connection[Any], codes: set[str]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT code, name FROM timeline.organisations WHERE code = ANY(%s)", (sorted(codes),)
    ).fetchall()
    return {code: name for code, name in rows}


def _sentence(
    kind: str, occurred_at: datetime, organisation: str, detail: dict[str, Any], names: Any
) -> str:
    name = names.get(organisation, organisation)
    if kind == ACCESS:
        return wording.describe_access(name, occurred_at, detail)
    if kind == SHARE:
        return wording.describe_share(names, occurred_at, detail)
    return wording.describe_change(kind, name, occurred_at, detail)


# How a third-party field shows in a disclosable form when it holds someone (a
# commitment; JSON escapes any quote inside a string, so no string can hold this text).
THIRD_PARTY_MEMBERS = {"official": b'"official_key":"commit:', "officer": b'"officer_key":"commit:'}


def _third_parties(content: bytes) -> tuple[str, ...]:
    """Which third-party identities an event holds, from its disclosable form: the
    official who accessed the record, an officer named as acting on a request."""
    return tuple(field for field, member in THIRD_PARTY_MEMBERS.items() if member in content)


def _recorded(keyring: Keyring, state: Mapping[str, Any], field: str) -> str:
    """The identity a third-party field stands for, as the service sent it, from the
    signed envelope the event keeps: a fact's own, or the submission of a change."""
    sealed = state.get("envelope_sealed") or (state.get("submission") or {}).get("envelope_sealed")
    if not isinstance(sealed, str) or not sealed:
        raise LookupError(f"the event keeps no envelope to find its {field} in")
    data = json.loads(keyring.open(base64.b64decode(sealed))).get("data") or {}
    found = (data.get("accessor") or {}).get("official") if field == "official" else None
    found = data.get("officer") if field == "officer" else found
    if not isinstance(found, str):
        raise LookupError(f"the envelope this event keeps names no {field}")
    return found


def assemble_bundle(
    conn: Connection[Any],
    log: LogReader,
    keyring: Keyring,
    signer: LogSigner,
    *,
    organisation: Controller,
    case: Case,
    subject_key: str,
    decisions: Sequence[RedactionDecision] = (),
    disclose_official: Callable[[str], str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ResponseBundle:
    """The signed response bundle for ``subject_key``'s records involving
    ``organisation``, as of the newest signed tree head.

    ``decisions`` are the officers' redaction decisions on the case;
    ``disclose_official(identity)`` turns the identity of an official (or officer) an
    officer decided to disclose, as the service recorded it, into what the person is
    shown (default: that identity). Raises LogLookupError before the log has a signed
    tree head, or if a record was sealed in the first leaf format (its content cannot
    be proved).
    """
    with paused():  # what it reads and builds holds no cycle (ledger.collector)
        return _assemble(
            conn,
            log,
            keyring,
            signer,
            organisation,
            case,
            subject_key,
            decisions,
            disclose_official,
            now,
        )


def _assemble(
    conn: Connection[Any],
    log: LogReader,
    keyring: Keyring,
    signer: LogSigner,
    organisation: Controller,
    case: Case,
    subject_key: str,
    decisions: Sequence[RedactionDecision],
    disclose_official: Callable[[str], str] | None,
    now: Callable[[], datetime],
) -> ResponseBundle:
    head = store.latest_head(conn)
    if head is None:
        raise LogLookupError("no-tree-head", "No tree head yet", "the sealer has not run yet")
    size = head.head.tree_size
    entries = search(conn, subject_key, organisation.code, case)
    leaves = store.leaves_at(conn, [e[0] for e in entries])
    sealed = [e for e in entries if e[0] in leaves and leaves[e[0]].leaf_index < size]
    old = [e[0] for e in sealed if leaves[e[0]].leaf_format == 1]
    if old:
        raise LogLookupError(
            "old-leaf-format",
            "Records sealed in the first leaf format",
            f"ledger positions {old[:5]} were sealed as ledger-leaf/v1, whose content "
            "cannot be proved without showing pseudonyms",
        )
    rows = {
        row.position: row
        for row in store.open_rows(
            conn, keyring.vault(), store.events_at(conn, [e[0] for e in sealed])
        )
    }
    paths, _ = inclusion_paths(conn, [leaves[e[0]].leaf_index for e in sealed], size)
    codes = {organisation.code}
    for entry in sealed:
        codes.update({entry[4], *(entry[5].get(k) or "" for k in ("sender", "recipient"))})
    names = {**_names(conn, codes), organisation.code: organisation.name}
    items = []
    for position, kind, occurred_at, recorded_at, org, detail in sealed:
        row: EventRow = rows[position]
        shown = disclose(log.discloser, row, leaves[position], frozenset({subject_key}))
        assert shown.leaf_input is not None  # a v2 leaf: checked above
        items.append(
            SubjectItem(
                position=position,
                leaf_index=leaves[position].leaf_index,
                kind=kind,
                occurred_at=occurred_at,
                recorded_at=recorded_at,
                organisation=org,
                sentence=_sentence(kind, occurred_at, org, detail, names),
                detail=detail,
                disclosable=shown.content,
                leaf_input=shown.leaf_input,
                inclusion_path=paths[leaves[position].leaf_index],
                openings=shown.openings,
                third_parties=_third_parties(shown.content),
            )
        )

    def disclosed(position: int, field: str) -> str:
        row = rows[position]
        state = row.opened.state if row.opened is not None else row.state
        identity = _recorded(keyring, json.loads(state or b"{}"), field)
        return identity if disclose_official is None else disclose_official(identity)

    return build_bundle(
        controller=organisation,
        case=case,
        items=items,
        head=head,
        signer=signer,
        names=names,
        generated_at=now(),
        decisions=decisions,
        disclose=disclosed,
        not_yet_sealed=len(entries) - len(sealed),
    )
