"""The ``ledger`` command in a folder with no ledger home and no ``LEDGER_SECRET``: what
needs no secret works, what needs one says where it looked, and nothing makes a secret."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from cli.main import build_parser, main
from cli.startup import OPENS_DATABASE, STARTS_SERVERS


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no ledger home, and no LEDGER_* variable set."""
    for name in [n for n in os.environ if n.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_commands_that_need_no_secret_work_and_make_no_home(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["settings"]) == 0
    assert main(["keys", "new", "--out", str(elsewhere / "service.seed")]) == 0
    with pytest.raises(SystemExit) as shown:
        main(["--help"])

    assert shown.value.code == 0
    assert "| `LEDGER_HOME` |" in capsys.readouterr().out
    assert not (elsewhere / ".ledger").exists()


@pytest.mark.parametrize(
    "command", [["tokens", "issue", "--role", "auditor"], ["log-key"], ["verify", "--audit"]]
)
def test_a_command_that_needs_the_secret_says_there_is_no_home_and_makes_none(
    elsewhere: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code = main(command)

    assert code == 2
    assert (
        f"ledger: no ledger home at {elsewhere.resolve()}/.ledger: run `ledger init` "
        "(or `ledger run`) there first, or set LEDGER_HOME / LEDGER_SECRET"
    ) in capsys.readouterr().err
    assert not (elsewhere / ".ledger").exists()


def test_the_commands_named_as_opening_the_database_or_starting_servers_exist() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    assert OPENS_DATABASE | STARTS_SERVERS <= set(commands.choices)
