"""``ledger dsar due``, run as the real command in a folder with no ledger home: the due
date alone on stdout, the steps with ``--explain``, one line and exit code 2 on input it
cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ledger(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {n: v for n, v in os.environ.items() if not n.startswith("LEDGER_")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *arguments],
        cwd=folder,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_prints_the_due_date_alone_and_needs_no_ledger_home(tmp_path: Path) -> None:
    shown = ledger(tmp_path, "dsar", "due", "--received", "2025-09-03", "--nation", "scotland")

    assert (shown.returncode, shown.stdout, shown.stderr) == (0, "2025-10-03\n", "")
    assert not (tmp_path / ".ledger").exists()


def test_pauses_identity_and_extension_with_each_step_explained(tmp_path: Path) -> None:
    shown = ledger(
        tmp_path,
        *("dsar", "due", "--received", "2027-11-25", "--nation", "scotland"),
        *("--identity-verified", "2027-11-27", "--extended", "--explain"),
        *("--paused", "2027-11-26..2027-11-28", "--paused", "2027-12-01..2027-12-03"),
    )

    lines = shown.stdout.splitlines()
    assert shown.returncode == 0, shown.stderr
    # 27 November + 3 months = 27 February 2028, + 5 paused days = 3 March (a Friday).
    assert lines[0] == "2028-03-03"
    assert "The month runs from 27 November 2027, when the identity information" in lines[2]
    assert "from 1 December 2027 to 3 December 2027: 3 days do not count." in shown.stdout
    # The first month (to 27 December), + 5 days = 1 January 2028; 1 to 4 January are
    # not working days in Scotland (a Saturday, a Sunday, two bank holidays).
    assert lines[-1].startswith("An extension had to be notified, with its reasons, by 5 January")


def test_a_date_beyond_the_published_holidays_is_marked_provisional(tmp_path: Path) -> None:
    shown = ledger(
        tmp_path, "dsar", "due", "--received", "2030-03-19", "--nation", "england-and-wales"
    )

    assert (shown.returncode, shown.stdout) == (0, "2030-04-23\n")  # after Easter Monday
    assert shown.stderr.startswith("(provisional: the bank holidays of 2030 are not published")


def test_an_open_pause_is_counted_to_today(tmp_path: Path) -> None:
    shown = ledger(
        tmp_path,
        *("dsar", "due", "--received", "2025-09-03", "--nation", "northern-ireland"),
        *("--paused", "2025-09-10..", "--today", "2025-09-19"),
    )

    assert (shown.returncode, shown.stdout) == (0, "2025-10-13\n")
    assert "the clock is stopped" in shown.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--received", "2025-02-30", "--nation", "scotland"],
            "ledger: --received '2025-02-30' is not a date: write it as YYYY-MM-DD",
        ),
        (
            ["--received", "3/9/2025", "--nation", "scotland"],
            "ledger: --received '3/9/2025' is not a date: write it as YYYY-MM-DD",
        ),
        (
            ["--received", "2025-09-03", "--nation", "wales"],
            "ledger: --nation 'wales' is not one of england-and-wales, scotland, northern-ireland",
        ),
        (
            [
                "--received",
                "2025-09-03",
                "--nation",
                "scotland",
                "--paused",
                "2025-09-01..2025-09-04",
            ],
            "ledger: a clarification asked for on 1 September 2025 is before the request was "
            "received on 3 September 2025",
        ),
        (
            ["--received", "2025-09-03", "--nation", "scotland", "--paused", "2025-09-10"],
            "ledger: --paused '2025-09-10': write the days asked and answered as "
            "YYYY-MM-DD..YYYY-MM-DD (or YYYY-MM-DD.. while still waiting)",
        ),
        (
            [
                "--received",
                "2025-09-03",
                "--nation",
                "scotland",
                "--paused",
                "2025-09-12..2025-09-10",
            ],
            "ledger: a clarification answered on 10 September 2025 is before it was asked for "
            "on 12 September 2025",
        ),
        (
            ["--received", "9999-12-20", "--nation", "scotland"],
            "ledger: a date is too far ahead for the calendar",
        ),
    ],
)
def test_input_it_cannot_use_is_one_line_and_exit_code_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    shown = ledger(tmp_path, "dsar", "due", *arguments)

    assert (shown.returncode, shown.stdout, shown.stderr) == (2, "", message + "\n")


def test_help_names_the_options_and_a_missing_option_is_a_usage_error(tmp_path: Path) -> None:
    helped = ledger(tmp_path, "dsar", "due", "--help")
    missing = ledger(tmp_path, "dsar", "due", "--nation", "scotland")

    assert helped.returncode == 0
    for option in ("--received", "--nation", "--identity-verified", "--paused", "--extended"):
        assert option in helped.stdout
    assert "england-and-wales|scotland|northern-ireland" in helped.stdout
    assert missing.returncode == 2 and "--received" in missing.stderr
