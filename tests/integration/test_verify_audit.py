"""``ledger verify --audit`` against a real database someone has tampered with: each
kind of tampering is caught, at the first divergent leaf, with a non-zero exit."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cli.main import main
from ledger.application import Ledger
from ledger.merkle import MerkleFrontier
from ledger.settings import Settings
from ledger.transparency import store
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from tests.integration.test_transparency_sealer import event_rows, record_events

pytestmark = pytest.mark.integration

EVENTS = 40


@pytest.fixture
def sealed_log(cli_env: Settings) -> Iterator[Settings]:
    """A ledger of 40 events sealed in batches of 16 (heads at 16, 32, 40), CLI env set."""
    settings = cli_env
    ledger = Ledger.from_settings(settings)
    record_events(ledger, EVENTS)
    ledger.close()
    sealer = Sealer(
        settings.database_url,
        signer_from_settings(settings),
        discloser_from_settings(settings),
        batch=16,
    )
    sealer.seal()
    sealer.close()
    yield settings


def tamper(settings: Settings, *statements: str) -> None:
    with psycopg.connect(settings.database_url) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def audit(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["verify", "--audit", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_untouched_log_passes_with_a_progress_bar(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = audit(capsys)

    assert code == 0
    assert f"OK: {EVENTS} leaves recomputed, 3 signed tree heads checked" in out
    assert "audit [" in err and f"{EVENTS}/{EVENTS} leaves" in err


@pytest.fixture
def no_home_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no ledger home, LEDGER_SECRET and LEDGER_HOME unset."""
    monkeypatch.delenv("LEDGER_SECRET")
    monkeypatch.delenv("LEDGER_HOME")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_audit_from_a_folder_with_no_home_is_refused_not_a_tamper_alarm(
    sealed_log: Settings, no_home_here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Seen: run from another folder, the audit made itself a new development secret
    # there, and the log's own signatures looked forged.
    code, _, err = audit(capsys)

    assert code == 2 and f"no ledger home at {no_home_here.resolve()}/.ledger" in err
    assert "FAILED" not in err
    assert not (no_home_here / ".ledger").exists()


def test_an_auditor_with_only_the_public_key_audits_an_export_and_needs_no_secret(
    sealed_log: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = signer_from_settings(sealed_log).key.verifier_key
    export = tmp_path / "log.jsonl"
    assert main(["export", str(export)]) == 0  # the operator's
    monkeypatch.delenv("LEDGER_SECRET")
    monkeypatch.delenv("LEDGER_HOME")
    monkeypatch.chdir(tmp_path)  # the auditor's desk: no home, no secret

    code, out, _ = audit(capsys, "--export", str(export), "--key", key)
    assert code == 0 and f"OK: {EVENTS} leaves recomputed" in out
    # The database itself is audited by the operator: its leaves need the secret.
    code, _, err = audit(capsys, "--key", key)
    assert code == 2 and "no ledger home" in err


def test_altering_one_stored_event_is_caught_at_its_leaf(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    target = event_rows(sealed_log)[20].position
    tamper(
        sealed_log,
        f"UPDATE ledger_events SET state = state || '\\x20'::bytea "
        f"WHERE notification_id = {target}",
    )

    code, _, err = audit(capsys)

    assert code == 1
    assert f"leaf 20, ledger position {target}: the stored bytes of event" in err
    assert "changed after it was sealed" in err and "expected: leaf hash" in err


def test_deleting_a_row_is_caught(sealed_log: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    target = event_rows(sealed_log)[7].position
    tamper(sealed_log, f"DELETE FROM ledger_events WHERE notification_id = {target}")

    code, _, err = audit(capsys)

    assert code == 1
    assert (
        f"leaf 7, ledger position {target}: the event sealed at position {target} is missing" in err
    )


def test_swapping_two_rows_is_caught(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = event_rows(sealed_log)
    a, b = rows[3].position, rows[30].position
    tamper(
        sealed_log,
        f"UPDATE ledger_events SET notification_id = -1 WHERE notification_id = {a}",
        f"UPDATE ledger_events SET notification_id = {a} WHERE notification_id = {b}",
        f"UPDATE ledger_events SET notification_id = {b} WHERE notification_id = -1",
    )

    code, _, err = audit(capsys)

    assert code == 1
    assert f"leaf 3, ledger position {a}: a different event sits at this position" in err
    assert f"expected: event {rows[3].originator_id} v1" in err
    assert f"found:    event {rows[30].originator_id} v1" in err


def test_truncating_the_log_is_caught(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = event_rows(sealed_log)[24].position
    tamper(sealed_log, f"DELETE FROM ledger_events WHERE notification_id > {keep}")

    code, _, err = audit(capsys)

    assert code == 1
    assert "leaf 25" in err and "the log ends after 25 events" in err and "truncated" in err


def test_rewriting_the_whole_tree_to_match_is_still_caught_by_the_signed_heads(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Someone who can drop the append-only triggers alters an event, then rebuilds every
    # stored node to match. Only the signed tree heads still remember the old root.
    target = event_rows(sealed_log)[5].position
    tamper(
        sealed_log,
        f"UPDATE ledger_events SET state = state || '\\x20'::bytea "
        f"WHERE notification_id = {target}",
    )
    frontier, nodes = MerkleFrontier(), []
    for row in event_rows(sealed_log):
        nodes += frontier.append(row.leaf_hash())
    with psycopg.connect(sealed_log.database_url) as conn:
        conn.execute("ALTER TABLE ledger_log_nodes DISABLE TRIGGER ledger_log_nodes_append_only")
        conn.execute("DELETE FROM ledger_log_nodes")
        store.copy_nodes(conn, nodes)

    code, _, err = audit(capsys)

    assert code == 1
    assert "the events no longer hash to the root signed at size 16" in err
    assert "a leaf in [0, 16) changed" in err


def test_a_forged_tree_head_is_caught(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(
        sealed_log,
        "ALTER TABLE ledger_log_tree_heads DISABLE TRIGGER ledger_log_tree_heads_append_only",
        "UPDATE ledger_log_tree_heads SET timestamp_ms = timestamp_ms + 1 WHERE tree_size = 32",
    )

    code, _, err = audit(capsys)

    assert code == 1
    assert "the signed tree head of size 32 does not verify" in err


def test_an_export_audits_offline_with_only_the_public_key(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export, key = tmp_path / "log.jsonl", tmp_path / "log.vkey"
    key.write_text(signer_from_settings(sealed_log).key.verifier_key)
    assert main(["export", str(export)]) == 0

    code, out, _ = audit(capsys, "--export", str(export), "--key", str(key))
    assert code == 0 and f"OK: {EVENTS} leaves recomputed" in out
    lines = export.read_text().splitlines()
    doctored = [json.loads(line) for line in lines]
    for line in doctored:  # alter one event and its sealed hash alike: only the heads know
        if line["kind"] == "leaf" and line["leaf_index"] == 33:
            line["event"]["topic"] = "forged"
            from ledger.transparency.export import ExportFile

            row = next(
                r for r in ExportFile(export).events() if r.position == line["event"]["position"]
            )
            forged = dataclasses.replace(row, topic="forged")
            from ledger.transparency.checkpoint import b64

            line["sealed"]["leaf_hash"] = b64(forged.leaf_hash())
    export.write_text("".join(json.dumps(line) + "\n" for line in doctored))

    code, _, err = audit(capsys, "--export", str(export), "--key", str(key))
    assert code == 1
    assert "the events no longer hash to the root signed at size 40" in err
    assert "a leaf in [32, 40) changed" in err


def test_an_export_audit_needs_the_key(
    sealed_log: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export = tmp_path / "log.jsonl"
    assert main(["export", str(export)]) == 0

    code, _, err = audit(capsys, "--export", str(export))

    assert code == 2 and "--key is required" in err
