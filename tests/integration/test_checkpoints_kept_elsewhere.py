"""Checkpoints others hold: a log truncated back to an older signed head, or forked from
one, passes an audit of itself (its own heads go with it) and fails against a checkpoint
kept elsewhere; a witness keeps them, and refuses a log that no longer extends its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cli.main import main
from cli.witness import Diverged, Witness
from ledger.application import Ledger
from ledger.settings import Settings
from ledger.transparency.checkpoint import LogKey
from ledger.transparency.sealer import Sealer
from tests.integration.test_transparency_sealer import record_events
from tests.integration.test_verify_audit import EVENTS, audit, tamper
from tests.integration.test_verify_audit import sealed_log as sealed_log  # the fixture
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

TRUNCATE_TO_16 = (
    "ALTER TABLE ledger_log_leaves DISABLE TRIGGER ledger_log_leaves_append_only",
    "ALTER TABLE ledger_log_nodes DISABLE TRIGGER ledger_log_nodes_append_only",
    "ALTER TABLE ledger_log_tree_heads DISABLE TRIGGER ledger_log_tree_heads_append_only",
    "DELETE FROM ledger_events WHERE notification_id > "
    "(SELECT position FROM ledger_log_leaves WHERE leaf_index = 15)",
    "DELETE FROM ledger_log_leaves WHERE leaf_index >= 16",
    "DELETE FROM ledger_log_nodes WHERE (node_index + 1) << level > 16",
    "DELETE FROM ledger_log_tree_heads WHERE tree_size > 16",
)


@pytest.fixture
def api(sealed_log: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(sealed_log), headers=bearer(sealed_log, "auditor")) as client:
        yield client


@pytest.fixture
def kept(api: TestClient, tmp_path: Path) -> Path:
    """The checkpoint of size 40, as an auditor kept it before anything happened."""
    path = tmp_path / "checkpoint-40.txt"
    path.write_text(api.get("/v1/log/checkpoint").text)
    return path


def seal(settings: Settings) -> None:
    sealer = Sealer.from_settings(settings)
    sealer.seal()
    sealer.close()


def test_a_log_truncated_to_an_older_head_passes_alone_and_fails_a_kept_checkpoint(
    sealed_log: Settings, kept: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(sealed_log, *TRUNCATE_TO_16)

    alone, out, _ = audit(capsys)
    assert alone == 0 and "OK: 16 leaves recomputed" in out  # consistent with itself

    code, _, err = audit(capsys, "--checkpoint", str(kept))
    assert code == 1
    assert "a checkpoint kept elsewhere records a tree of size 40" in err
    assert "now holds only 16 sealed events: it was truncated" in err


def test_a_log_forked_from_an_older_head_fails_a_kept_checkpoint(
    sealed_log: Settings, kept: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(sealed_log, *TRUNCATE_TO_16)
    ledger = Ledger.from_settings(sealed_log)
    record_events(ledger, EVENTS - 16, "OTHER")  # another history, signed with the real key
    ledger.close()
    seal(sealed_log)

    code, _, err = audit(capsys, "--checkpoint", str(kept))

    assert code == 1
    assert "the log's tree of size 40 is not the one a checkpoint kept elsewhere" in err
    assert "forked" in err


def test_an_intact_log_holds_every_kept_checkpoint(
    sealed_log: Settings, api: TestClient, kept: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger.from_settings(sealed_log)
    record_events(ledger, 5, "LATER")
    ledger.close()
    seal(sealed_log)

    code, out, _ = audit(capsys, "--checkpoint", str(kept))

    assert code == 0 and "the log still holds the tree of each of 1 kept checkpoints" in out


def test_a_witness_keeps_checkpoints_and_refuses_a_log_that_shrank(
    sealed_log: Settings, api: TestClient, tmp_path: Path
) -> None:
    key = LogKey.parse(api.get("/v1/log/key").json()["verifier_key"])
    witness = Witness(lambda path: api.get(path).content, key, tmp_path / "kept")

    assert witness.witness().size == 40
    ledger = Ledger.from_settings(sealed_log)
    record_events(ledger, 5, "LATER")
    ledger.close()
    seal(sealed_log)
    assert witness.witness().kept_before == 40  # consistent: the log grew from 40 to 45
    assert (tmp_path / "kept" / "checkpoint-45.txt").exists()

    tamper(sealed_log, *TRUNCATE_TO_16)
    with pytest.raises(Diverged, match="fewer than the 45 of the checkpoint kept"):
        witness.witness()
    assert "45" in (tmp_path / "kept" / "latest.txt").read_text()  # not overwritten


def test_the_signed_sizes_are_listed_a_page_at_a_time(api: TestClient) -> None:
    first = api.get("/v1/log/tree-heads", params={"limit": 2}).json()
    rest = api.get("/v1/log/tree-heads", params={"after": first["next"]}).json()

    sizes = [h["tree_size"] for h in first["tree_heads"] + rest["tree_heads"]]
    assert sizes == [16, 32, 40] and first["next"] == 32 and rest["next"] is None


def test_the_witness_command_says_what_it_kept(
    sealed_log: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Unreachable: nothing is kept, and it says so (exit 2).
    assert main(["log-key"]) == 0
    key = capsys.readouterr().out.strip()
    code = main(["witness", "http://127.0.0.1:9", "--key", key, "--store", str(tmp_path)])
    assert code == 2 and "cannot reach the log" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
