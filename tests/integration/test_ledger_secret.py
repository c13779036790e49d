"""Which secret a command uses, and what it does when that is not the secret its database
was initialised with: it stops and says so (exit 2), and a wrong secret never looks like
tampering."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer
from tests.integration.test_transparency_sealer import record_events

pytestmark = pytest.mark.integration

OTHER_SECRET = "a1" * 32
WRONG_SECRET = "this database was initialised with another LEDGER_SECRET (fingerprint "
ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def initialised(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> Settings:
    """A database `ledger init` prepared under the test's secret, with events sealed."""
    assert run(capsys, "init")[0] == 0
    ledger = Ledger.from_settings(cli_env)
    record_events(ledger, 3)
    ledger.close()
    assert run(capsys, "seal", "--once")[0] == 0
    return cli_env


@pytest.fixture
def another_secret(initialised: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LEDGER_SECRET", OTHER_SECRET)
    return initialised


@pytest.mark.parametrize(
    "command",
    [
        ["init"],
        ["verify", "--audit"],
        ["seal", "--once"],
        ["projections", "status"],
        ["projections", "rebuild"],
        ["export", "ledger.jsonl"],
        ["demo"],
        [
            "services",
            "register",
            "urn:x:y",
            "--organisation",
            "DWP",
            "--name",
            "x",
            "--types",
            DATA_ACCESSED,
        ],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_each_command_refuses_a_database_initialised_with_another_secret(
    another_secret: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, err = run(capsys, *command)

    assert code == 2, out + err
    assert f"ledger: {WRONG_SECRET}" in err and " configured)" in err
    assert "FAILED" not in err + out  # no tamper alarm
    assert not (tmp_path / "ledger.jsonl").exists()


@pytest.mark.parametrize("command", ["ingest", "publish", "project", "seal", "api", "run"])
def test_each_process_refuses_to_start_on_a_database_initialised_with_another_secret(
    another_secret: Settings, command: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    started = subprocess.run(
        [sys.executable, "-m", "cli.main", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert started.returncode == 2, started.stderr
    assert f"ledger: {WRONG_SECRET}" in started.stderr


def test_another_log_signing_key_is_named_too(
    initialised: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_LOG_SIGNING_SEED", "b2" * 32)

    code, _, err = run(capsys, "verify", "--audit")

    assert code == 2
    assert "this database's log was signed with another key (log key ledger.example/log+" in err
    assert WRONG_SECRET not in err


def test_doctor_reports_the_secret_check(
    initialised: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, good, _ = run(capsys, "doctor")  # (no pipeline runs here: it fails for that)
    monkeypatch.setenv("LEDGER_SECRET", OTHER_SECRET)
    unhealthy, bad, _ = run(capsys, "doctor")

    assert "secret      ok   LEDGER_SECRET  fingerprint " in good
    assert unhealthy == 1 and f"secret      FAIL LEDGER_SECRET  {WRONG_SECRET}" in bad


def test_a_database_from_before_keys_were_recorded_adopts_them_at_the_next_init(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = Ledger.from_settings(cli_env)
    record_events(ledger, 3)
    ledger.close()

    before, _, _ = run(capsys, "seal", "--once")
    initialised, _, _ = run(capsys, "init")
    monkeypatch.setenv("LEDGER_SECRET", OTHER_SECRET)
    after, _, err = run(capsys, "seal", "--once")

    assert before == 0 and "the database records no keys yet" in caplog.text
    assert initialised == 0
    assert after == 2 and WRONG_SECRET in err


def test_a_database_from_before_signed_under_another_secret_is_not_adopted(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger.from_settings(cli_env)
    record_events(ledger, 3)
    ledger.close()
    sealer = Sealer.from_settings(cli_env)
    sealer.seal()
    sealer.close()
    monkeypatch.setenv("LEDGER_SECRET", OTHER_SECRET)

    code, _, err = run(capsys, "init")

    assert code == 2
    assert "latest signed tree head (size 3) does not verify with the configured log key" in err


def test_the_dev_secret_is_the_one_in_the_home_init_made(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEDGER_SECRET")
    monkeypatch.delenv("LEDGER_HOME")
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    initialised, _, _ = run(capsys, "init")
    sealed, _, _ = run(capsys, "seal", "--once")
    monkeypatch.chdir(elsewhere)
    refused, _, err = run(capsys, "seal", "--once")

    assert initialised == 0 and (here / ".ledger" / "dev-secret.hex").exists()
    assert sealed == 0
    assert refused == 2 and f"no ledger home at {elsewhere.resolve()}/.ledger" in err
    assert not (elsewhere / ".ledger").exists()
