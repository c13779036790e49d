"""Each long-running process says how it is, every few seconds, in the ledger's database;
the pipeline report reads what they say, with what the database itself shows.

A process keeps a :class:`~ledger.health.Health` (running or stuck, its backlog, when it last made
progress); a :class:`Heartbeat` thread writes it to ``ledger_processes`` every
:data:`BEAT_SECONDS` on a connection of its own, and removes the row when the process
stops cleanly. :func:`pipeline_report` (``ledger doctor``, ``GET /readyz``) reads the
rows and the positions every stage tracks, and names what is wrong: a process stuck, a
process no longer beating, a stage with work waiting and no progress.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from ledger.database_roles import may_create, require_tables
from ledger.health import Health

log = logging.getLogger("ledger.heartbeat")

BEAT_SECONDS = 2.0
# A process not heard from for this long is taken for dead.
SILENT_AFTER = 15.0
# A stage with work waiting that has made no progress for this long is stalled.
STALLED_AFTER = 30.0
# Rows of processes gone this long are removed (a host that went away).
FORGET_AFTER = 3600.0

CREATE = (
    "CREATE TABLE IF NOT EXISTS ledger_processes (name text PRIMARY KEY, kind text NOT NULL, "
    "host text NOT NULL, pid integer NOT NULL, started_at timestamptz NOT NULL, "
    "beat_at timestamptz NOT NULL, state text NOT NULL, detail text, backlog bigint, "
    "progress_at timestamptz)"
)
_UPSERT = (
    "INSERT INTO ledger_processes (name, kind, host, pid, started_at, beat_at, state, detail, "
    "backlog, progress_at) VALUES (%s, %s, %s, %s, %s, now(), %s, %s, %s, %s) "
    "ON CONFLICT (name) DO UPDATE SET beat_at = now(), state = EXCLUDED.state, "
    "detail = EXCLUDED.detail, backlog = EXCLUDED.backlog, progress_at = EXCLUDED.progress_at"
)


def create_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``ledger_processes`` if it is missing (autocommit connection); under a
    process's own role, check that ``ledger init`` made it."""
    if not may_create(conn):
        require_tables(conn, ["ledger_processes"])
        return
    try:
        conn.execute(CREATE)
    except (
        psycopg.errors.UniqueViolation,
        psycopg.errors.DuplicateTable,
        psycopg.errors.DuplicateObject,  # its row type, when the race is lost there
    ):
        pass  # another process created it at the same moment: it is there


class Heartbeat:
    """Writes a process's :class:`Health` every few seconds until stopped."""

    def __init__(self, database_url: str, health: Health, name: str | None = None) -> None:
        self.database_url = database_url
        self.health = health
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.name = name or f"{health.kind}@{self.host}:{self.pid}"
        self.started_at = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and remove this process's row (a clean stop is not a death)."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            with psycopg.connect(self.database_url, autocommit=True, connect_timeout=3) as conn:
                conn.execute("DELETE FROM ledger_processes WHERE name = %s", (self.name,))
        except psycopg.Error as exc:
            log.info("could not remove this process's heartbeat: %s", exc)

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=3)
                    create_table(conn)
                    self._forget_the_dead(conn)
                state, detail, backlog, progress_at = self.health.snapshot()
                conn.execute(
                    _UPSERT,
                    (
                        self.name,
                        self.health.kind,
                        self.host,
                        self.pid,
                        self.started_at,
                        state,
                        detail,
                        backlog,
                        progress_at,
                    ),
                )
            except psycopg.Error as exc:  # the database is away: beat again when it is back
                log.debug("heartbeat not written: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
            self._stop.wait(BEAT_SECONDS)
        if conn is not None:
            conn.close()

    def _forget_the_dead(self, conn: psycopg.Connection[Any]) -> None:
        """Remove rows of processes on this host that no longer run (a crash left them),
        and of any process not heard from for an hour."""
        rows = conn.execute(
            "SELECT name, pid FROM ledger_processes WHERE host = %s AND name <> %s",
            (self.host, self.name),
        ).fetchall()
        gone = [name for name, pid in rows if not _alive(int(pid))]
        if gone:
            conn.execute("DELETE FROM ledger_processes WHERE name = ANY(%s)", (gone,))
        conn.execute(
            "DELETE FROM ledger_processes WHERE beat_at < now() - make_interval(secs => %s)",
            (FORGET_AFTER,),
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Finding:
    """One line of the pipeline report."""

    part: str
    healthy: bool
    detail: str


@dataclass(frozen=True)
class PipelineReport:
    findings: list[Finding]

    @property
    def healthy(self) -> bool:
        return all(f.healthy for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "failing",
            "checks": [
                {"part": f.part, "status": "ok" if f.healthy else "failing", "detail": f.detail}
                for f in self.findings
            ],
        }


def pipeline_report(
    conn: psycopg.Connection[Any], outboxes: tuple[str, str], views: dict[str, int]
) -> PipelineReport:
    """What each stage of the pipeline is doing, from the heartbeats and the positions
    tracked in the database. ``outboxes``: the outbox publisher's tracking names of the
    events and of the dead letters; ``views``: each view's position."""
    create_table(conn)
    head = _scalar(conn, "SELECT coalesce(max(notification_id), 0) FROM ledger_events") or 0
    processes = conn.execute(
        "SELECT name, kind, state, detail, backlog, progress_at, "
        "extract(epoch FROM now() - beat_at) AS silent, "
        "extract(epoch FROM now() - progress_at) AS idle FROM ledger_processes "
        "ORDER BY kind, name"
    ).fetchall()
    findings = [_process_finding(row) for row in processes]
    by_kind: dict[str, list[Any]] = {}
    for row in processes:
        by_kind.setdefault(row[1], []).append(row)
    findings.append(_ingest_finding(by_kind.get("ingest", [])))
    slowest = min(views, key=lambda name: views[name]) if views else "views"
    for kind, part, behind in (
        ("seal", "sealer", head - _sealed(conn)),
        ("publish", "outbox publisher", _unpublished(conn, head, outboxes)),
        ("project", f"views (slowest: {slowest})", head - min(views.values(), default=head)),
    ):
        findings.append(_stage_finding(part, behind, by_kind.get(kind, [])))
    return PipelineReport(findings)


def _process_finding(row: Any) -> Finding:
    name, _, state, detail, _, _, silent, _ = row
    if float(silent) > SILENT_AFTER:
        return Finding(name, False, f"not heard from for {float(silent):.0f} s")
    if state == "stuck":
        return Finding(name, False, f"stuck: {detail}")
    return Finding(name, True, "running")


def _ingest_finding(rows: list[Any]) -> Finding:
    if not rows:
        return Finding("ingest", False, "no ingest worker is running")
    lag = sum(int(r[4] or 0) for r in rows)
    idle = min(float(r[7]) for r in rows)
    if lag > 0 and idle > STALLED_AFTER:
        return Finding(
            "ingest", False, f"{lag:,} records waiting and nothing committed for {idle:.0f} s"
        )
    return Finding("ingest", True, f"lag {lag:,} records; last commit {idle:.0f} s ago")


def _stage_finding(part: str, behind: int, rows: list[Any]) -> Finding:
    if behind <= 0:
        return Finding(part, True, "up to date")
    if not rows:
        return Finding(part, False, f"{behind:,} behind and no process running")
    idle = min(float(r[7]) for r in rows)
    if idle > STALLED_AFTER:
        return Finding(part, False, f"{behind:,} behind and no progress for {idle:.0f} s")
    return Finding(part, True, f"{behind:,} behind, catching up")


def _scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> int | None:
    try:
        row = conn.execute(query, params or None).fetchone()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return None
    return None if row is None or row[0] is None else int(row[0])


def _sealed(conn: psycopg.Connection[Any]) -> int:
    """The ledger position of the last sealed leaf."""
    return _scalar(conn, "SELECT coalesce(max(position), 0) FROM ledger_log_leaves") or 0


def _unpublished(conn: psycopg.Connection[Any], head: int, outboxes: tuple[str, str]) -> int:
    """Committed events and stored refusals the outbox publisher has not published."""
    events, dead = (
        _scalar(
            conn,
            "SELECT coalesce(max(notification_id), 0) FROM ledger_tracking "
            "WHERE application_name = %s",
            name,
        )
        or 0
        for name in outboxes
    )
    refusals = _scalar(conn, "SELECT coalesce(max(refusal_id), 0) FROM ledger_refusals") or 0
    return max(head - events, 0) + max(refusals - dead, 0)
