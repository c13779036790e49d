"""``ledger projections``: list the views and where they are; rebuild one from the log."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ledger.settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2


def _projections(settings: Settings, args: argparse.Namespace) -> int:
    from projections.views import VIEWS

    if args.action == "status":
        return _status(settings)
    names = [args.name] if args.name else list(VIEWS)
    unknown = [n for n in names if n not in VIEWS]
    if unknown:
        print(f"ledger: no view {unknown[0]!r}; views are {', '.join(VIEWS)}", file=sys.stderr)
        return EXIT_USAGE
    for name in names:
        _rebuild(settings, name)
    return EXIT_OK


def _rebuild(settings: Settings, name: str) -> None:
    from cli.progress import ProgressBar
    from ledger import database_roles as roles
    from projections.rebuild import rebuild

    bar: ProgressBar | None = None

    def progress(done: int, head: int) -> None:
        nonlocal bar
        if bar is None or bar.total != head:
            started = bar.started if bar else None
            bar = ProgressBar(f"rebuild {name}", head, "events")
            if started is not None:
                bar.started = started
        bar(done)

    # The views are the projector's: a rebuild builds and swaps them in as the projector
    # (when `ledger init` made the roles), so the projector can go on writing them.
    result = rebuild(roles.as_role(settings, roles.PROJECTOR), name, progress)
    if bar is not None:
        bar.finish(result.position)
    print(
        f"{name}: rebuilt to ledger position {result.position:,} in {result.seconds:.1f} s "
        f"({result.rate:,.0f} events/s), and swapped in"
    )


def _status(settings: Settings) -> int:
    import psycopg

    from projections.view import positions
    from projections.views import VIEWS

    with psycopg.connect(settings.database_url) as conn:
        for name, position in positions(conn, VIEWS).items():
            reason = VIEWS[name]().outdated(conn)
            conn.rollback()
            advice = f"; older layout ({reason}): rebuild it" if reason else ""
            print(f"{name:<11} at ledger position {position:,}{advice}")
    return EXIT_OK


def register(add: Callable[..., Any]) -> None:
    sub = add("projections", _projections, "Show the views' positions, or rebuild views")
    sub.add_argument("action", choices=["status", "rebuild"])
    sub.add_argument("name", nargs="?", help="the view to rebuild (default: every view)")
