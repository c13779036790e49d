"""``ledger retention``: the retention schedule, the erasure journal and its replay.

``run`` erases what is past retention now (``--dry-run`` says what it would erase,
``--at`` at another moment, with ``--dry-run`` only); ``status`` prints the schedule
and how many events hold live or destroyed keys; ``journal`` writes the erasures the
log records as a journal (for a backup routine that did not keep the one ``run``
writes); ``replay FILE`` destroys again, in a database restored from a backup, the keys
the journal's erasures destroyed. ``ledger dispose`` (a process of ``ledger run``)
applies the schedule every LEDGER_RETENTION_INTERVAL_SECONDS.

Exit codes: 0 done, 1 failed (a journal line not signed by this ledger, the database
away), 2 usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("ledger.retention")


def _eraser(settings: Settings) -> Any:
    from ledger.application import Ledger
    from ledger.erasure import Eraser
    from ledger.keyring import Keyring

    url = settings.writer_database_url or settings.database_url
    ledger = Ledger.from_settings(dataclasses.replace(settings, database_url=url))
    return Eraser(ledger, Keyring.from_settings(settings), url, settings.erasure_journal_path)


def _schedule(settings: Settings) -> Any:
    from ledger.erasure import RetentionError, Schedule

    try:
        return Schedule.parse(settings.retention)
    except RetentionError as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return None


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    schedule = _schedule(settings)
    if schedule is None:
        return EXIT_USAGE
    if args.at is not None and not args.dry_run:
        print("ledger: --at goes with --dry-run (erasing is done now)", file=sys.stderr)
        return EXIT_USAGE
    eraser = _eraser(settings)
    try:
        if args.dry_run:
            due = eraser.due(schedule, args.at)
            keys = sum(len(t.slots) for t in due)
            print(f"{len(due)} events past retention ({keys} data keys would be destroyed)")
            for target in due[:20]:
                print(f"  position {target.position}: {target.occurred_at:%Y-%m-%d} {target.slots}")
            if len(due) > 20:
                print(f"  ... and {len(due) - 20} more")
            return EXIT_OK
        done = eraser.apply_schedule(schedule)
    finally:
        eraser.ledger.close()
    if not done.erasures:
        print("nothing is past retention")
    else:
        print(
            f"erased {done.events} events past retention ({done.keys} data keys destroyed); "
            f"recorded at positions {', '.join(map(str, done.erasures))}; journal: "
            f"{settings.erasure_journal_path}"
        )
    return EXIT_OK


def _status(settings: Settings, args: argparse.Namespace) -> int:
    import psycopg

    schedule = _schedule(settings)
    if schedule is None:
        return EXIT_USAGE
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT (originator_id, originator_version)) FILTER "
            "(WHERE wrapped IS NOT NULL), count(DISTINCT (originator_id, originator_version)) "
            "FILTER (WHERE wrapped IS NULL), count(*) FILTER (WHERE wrapped IS NULL) "
            "FROM ledger_data_keys"
        ).fetchone()
    assert row is not None
    print(
        json.dumps(
            {
                "schedule": schedule.describe(),
                "events_with_live_keys": row[0],
                "events_with_destroyed_keys": row[1],
                "keys_destroyed": row[2],
                "journal": str(settings.erasure_journal_path),
            },
            indent=2,
        )
    )
    return EXIT_OK


def _journal(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.erasure import journal_from_log
    from ledger.keyring import Keyring

    keyring = Keyring.from_settings(settings)
    out = sys.stdout if args.out is None else Path(args.out).open("w")
    try:
        count = 0
        for line in journal_from_log(settings, keyring):
            out.write(line + "\n")
            count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{count} erasures written", file=sys.stderr)
    return EXIT_OK


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.erasure import read_journal
    from ledger.keyring import Keyring

    keyring = Keyring.from_settings(settings)
    try:
        lines = Path(args.file).read_text().splitlines()
    except OSError as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        records = list(read_journal(lines, keyring.log_signing_key.verify_key))
    except ValueError as exc:
        print(f"ledger: {exc}; nothing was replayed", file=sys.stderr)
        return EXIT_FAILED
    eraser = _eraser(settings)
    try:
        done = eraser.replay(records)
    finally:
        eraser.ledger.close()
    print(
        f"replayed {len(records)} erasures: {done.events} events erased again "
        f"({done.keys} data keys destroyed)"
        + (f"; recorded at positions {', '.join(map(str, done.erasures))}" if done.erasures else "")
    )
    return EXIT_OK


def dispose(settings: Settings, stop: Any) -> int:
    """Apply the schedule every LEDGER_RETENTION_INTERVAL_SECONDS until ``stop``."""
    from ledger.health import Health

    schedule = _schedule(settings)
    if schedule is None:
        return EXIT_USAGE
    interval = settings.retention_interval_seconds
    health = Health("dispose")
    from cli.processes import beating

    with beating(settings, health):
        if interval <= 0:
            log.info("the retention schedule is off (LEDGER_RETENTION_INTERVAL_SECONDS=0)")
            stop.wait()
            return EXIT_OK
        eraser = _eraser(settings)
        try:
            while not stop.is_set():
                try:
                    done = eraser.apply_schedule(schedule)
                    if done.events:
                        log.info("erased %s events past retention", done.events)
                    health.progressed()
                except Exception:  # reported, and tried again next time; never stops
                    log.exception("the retention schedule could not be applied; next try later")
                stop.wait(interval)
        finally:
            eraser.ledger.close()
    return EXIT_OK


def _dispose(settings: Settings, _: argparse.Namespace) -> int:
    from cli.processes import stop_on_signals

    return dispose(settings, stop_on_signals())


def register(add: Callable[..., Any]) -> None:
    """Add ``retention`` and ``dispose`` to the ``ledger`` command line."""
    group = add("retention", None, "Retention schedule and erasure: run, status, journal, replay")
    commands = group.add_subparsers(dest="retention_command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="erase the personal data past retention now (LEDGER_RETENTION)",
        description="Erase, by destroying their data keys, the personal data of every event "
        "past retention, and record the erasure in the log and the journal.",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="say what would be erased; erase nothing"
    )
    run.add_argument(
        "--at",
        type=_moment,
        default=None,
        metavar="TIME",
        help="with --dry-run: what would be past retention at this ISO 8601 time",
    )
    run.set_defaults(handler=_run)
    status = commands.add_parser(
        "status", help="the schedule, and how many keys are live or destroyed"
    )
    status.set_defaults(handler=_status)
    journal = commands.add_parser(
        "journal",
        help="write the erasures the log records as a signed journal",
        description="Write every erasure the log records as a journal `replay` reads.",
    )
    journal.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    journal.set_defaults(handler=_journal)
    replay = commands.add_parser(
        "replay",
        help="destroy again the keys a journal's erasures destroyed (after a restore)",
        description="In a database restored from a backup taken before some erasures, "
        "destroy again the keys the journal's erasures destroyed, and record that in the log.",
    )
    replay.add_argument("file", metavar="FILE", help="the erasure journal (signed JSON lines)")
    replay.set_defaults(handler=_replay)
    add(
        "dispose",
        _dispose,
        "Apply the retention schedule every LEDGER_RETENTION_INTERVAL_SECONDS (until Ctrl-C)",
    )
