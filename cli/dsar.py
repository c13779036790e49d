"""``ledger dsar``: subject access requests.

``dsar due`` computes a request's statutory due date from its dates alone: no ledger
home, secret or database is needed. To add a subcommand, write a function that takes
the group's subparsers (``commands``) and adds one parser whose handler is
``handler(settings, args) -> int``, and list it in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from ledger.settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NATIONS = ("england-and-wales", "scotland", "northern-ireland")  # ledger.dsar.holidays.Nation

Subparsers = Any  # argparse's _SubParsersAction, which it does not name publicly


class UsageError(Exception):
    """Input the command cannot use: said in one line, exit code 2."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _date(option: str, text: str) -> date:
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {_shown(text)} is not a date: write it as YYYY-MM-DD") from None


def _pause(text: str) -> Any:
    from ledger.dsar.clock import Pause

    asked, dots, answered = text.partition("..")
    if not dots:
        raise UsageError(
            f"--paused {_shown(text)}: write the days asked and answered as "
            "YYYY-MM-DD..YYYY-MM-DD (or YYYY-MM-DD.. while still waiting)"
        )
    return Pause(_date("--paused", asked), _date("--paused", answered) if answered else None)


def _due(_: Settings, args: argparse.Namespace) -> int:
    from ledger.dsar.clock import Request, deadline
    from ledger.dsar.holidays import Nation, bundled_calendar

    try:
        if args.nation not in NATIONS:
            raise UsageError(f"--nation {_shown(args.nation)} is not one of {', '.join(NATIONS)}")
        today = _date("--today", args.today) if args.today else date.today()
        request = Request(
            received=_date("--received", args.received),
            identity_verified=_optional("--identity-verified", args.identity_verified),
            fee_received=_optional("--fee-received", args.fee_received),
            authority_received=_optional("--authority-received", args.authority_received),
            pauses=tuple(map(_pause, args.paused)),
            extended=args.extended,
        )
        result = deadline(request, Nation(args.nation), bundled_calendar(), today)
    except (UsageError, ValueError) as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(result.due.isoformat())
    if args.explain:
        for step in result.steps:
            print(step)
    if result.stopped:
        print(
            "(the clock is stopped: a clarification is still awaited; the date counts "
            f"the pause up to {today.isoformat()})",
            file=sys.stderr,
        )
    if result.provisional:
        print(
            f"(provisional: the bank holidays of {result.due.year} are not published yet; "
            "the regular ones were used, and a holiday announced later could move the date)",
            file=sys.stderr,
        )
    return EXIT_OK


def _optional(option: str, text: str | None) -> date | None:
    return None if text is None else _date(option, text)


def _add_due(commands: Subparsers) -> None:
    help_text = "Print the statutory due date of a subject access request (YYYY-MM-DD)"
    due = commands.add_parser(
        "due",
        help=help_text,
        description=f"{help_text}.\n\n"
        "One calendar month from the latest of the days the request, the identity\n"
        "information, the fee and a representative's authority were received (three\n"
        "months if extended), plus the days the clock was stopped for clarification,\n"
        "then moved past weekends and the nation's bank holidays. Needs no ledger home,\n"
        "secret or database.",
        epilog="example: ledger dsar due --received 2025-09-03 --nation scotland "
        "--paused 2025-09-10..2025-09-14 --explain\n"
        "exit codes: 0 printed, 2 the input cannot be used (said on stderr)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    due.add_argument(
        "--received", required=True, metavar="YYYY-MM-DD", help="the day the request arrived"
    )
    due.add_argument(
        "--nation",
        required=True,
        metavar="|".join(NATIONS),
        help="the organisation's nation, whose bank holidays count",
    )
    for option, what in (
        ("--identity-verified", "the identity information asked for"),
        ("--fee-received", "the fee (where one may be charged)"),
        ("--authority-received", "proof of a representative's authority"),
    ):
        due.add_argument(
            option,
            metavar="YYYY-MM-DD",
            help=f"the day {what} arrived: the month starts again from it",
        )
    due.add_argument(
        "--paused",
        action="append",
        default=[],
        metavar="ASKED..ANSWERED",
        help="a clarification asked for and answered, both days not counted "
        "(repeatable; ASKED.. while still waiting: counted to --today)",
    )
    due.add_argument(
        "--extended",
        action="store_true",
        help="extended by two further months (complex, or a number of requests)",
    )
    due.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="the day an open pause is counted to (default: today)",
    )
    due.add_argument("--explain", action="store_true", help="also print each step in plain English")
    due.set_defaults(handler=_due)


SUBCOMMANDS: tuple[Callable[[Subparsers], None], ...] = (_add_due,)


def register(add: Callable[..., Any]) -> None:
    """Add the ``dsar`` group and its subcommands to the ``ledger`` command line."""
    group = add("dsar", None, "Subject access requests: the statutory clock")
    commands = group.add_subparsers(dest="dsar_command", required=True, metavar="COMMAND")
    from cli.held_keys import add_key_commands
    from ledger.dsar.keys import DSAR

    add_key_commands(commands, DSAR, "its DSAR team acts through the API")
    for subcommand in SUBCOMMANDS:
        subcommand(commands)
