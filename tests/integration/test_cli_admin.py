"""`ledger keys new`, `ledger services register` and `ledger emit`, as an operator and a
service would use them, with their exit codes (0 ok, 1 refused, 2 usage)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cli.main import main
from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from tests.support.ledger import access_data, running_worker, scalar, wait_until

pytestmark = pytest.mark.integration

SOURCE = "urn:ledger:service:dwp:cli-test"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_new_key_is_kept_private_and_never_overwritten(
    cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = tmp_path / "service.seed"

    code, out, _ = run(capsys, "keys", "new", "--out", str(seed))
    again, _, err = run(capsys, "keys", "new", "--out", str(seed))

    assert code == 0 and json.loads(out)["key_id"].startswith("ed25519:")
    assert stat.S_IMODE(seed.stat().st_mode) == 0o600
    assert again == 2 and "never overwritten" in err
    assert json.loads(out)["seed_file"] == str(seed)


def test_a_registered_service_can_emit_through_kafka(
    cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = tmp_path / "service.seed"
    run(capsys, "keys", "new", "--out", str(seed))
    code, out, _ = run(
        capsys,
        "services",
        "register",
        SOURCE,
        "--organisation",
        "DWP",
        "--organisation-name",
        "the Department for Work and Pensions",
        "--name",
        "CLI test system",
        "--types",
        DATA_ACCESSED,
        "--key-file",
        str(seed),
    )
    assert code == 0 and json.loads(out)["key_id"].startswith("ed25519:")

    unsigned = {
        "specversion": "1.0",
        "id": "cli-1",
        "source": SOURCE,
        "type": DATA_ACCESSED,
        "time": "2026-03-03T10:15:00Z",
        "datacontenttype": "application/json",
        "data": access_data(),
    }
    events = tmp_path / "events.json"
    events.write_text(json.dumps(unsigned))
    code, out, _ = run(capsys, "emit", str(events), "--key-file", str(seed))

    assert code == 0 and "cli-1: sent to Kafka" in out
    with running_worker(cli_env):
        wait_until(
            lambda: (
                scalar(
                    cli_env.database_url,
                    "SELECT count(*) FROM ledger_submissions WHERE event_id = 'cli-1'",
                )
                == 1
            ),
            what="the emitted event in the ledger",
        )


def test_a_service_of_an_unknown_organisation_is_a_usage_error(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "services",
        "register",
        SOURCE,
        "--organisation",
        "NOPE",
        "--name",
        "x",
        "--types",
        DATA_ACCESSED,
    )

    assert code == 2 and "'NOPE' is not registered" in err


def test_unknown_event_types_are_a_usage_error(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "services",
        "register",
        SOURCE,
        "--organisation",
        "DWP",
        "--name",
        "x",
        "--types",
        "uk.gov.ledger.nonsense.v1",
    )

    assert code == 2 and "unknown event types: uk.gov.ledger.nonsense.v1" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not JSON"), ("[1, 2]", "every event must be a JSON object")],
)
def test_emitting_a_file_that_is_not_events_is_a_usage_error(
    cli_env: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    events = tmp_path / "events.json"
    events.write_text(content)

    code, _, err = run(capsys, "emit", str(events))

    assert code == 2 and message in err


def test_emitting_a_missing_file_is_a_usage_error(
    cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "emit", str(tmp_path / "nowhere.json"))

    assert code == 2 and "cannot read" in err
