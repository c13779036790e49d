"""Through the real processes (`ledger run`, demo data): a citizen's timeline entry
carries its leaf, its inclusion proof checks offline with only the log's public key,
and the whole log audits clean."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_ledger_run import (
    Running,
    demo_token,
    get_json,
    ledger_cli,
    start_ledger,
    stop_ledger,
)
from tests.support.folders import server_dir

pytestmark = pytest.mark.e2e

ALEX = "nhs-number:9434765919"


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with server_dir("ledger-e2e-home-") as home:
        running = start_ledger(home)
        yield running
        stop_ledger(running)


def sealed_entries(running: Running, timeout: float = 30) -> list[dict]:  # type: ignore[type-arg]
    # The sealer runs every second; wait until it has sealed Alex's entries.
    deadline = time.monotonic() + timeout
    while True:
        entries = get_json(
            f"{running.api}/v1/citizens/{ALEX}/timeline", demo_token(running, "ALEX")
        )["entries"]
        if entries and all(e["leaf_index"] is not None for e in entries):
            return list(entries)
        if time.monotonic() > deadline:
            raise AssertionError(f"entries not sealed after {timeout} s: {entries}")
        time.sleep(0.3)


def test_a_timeline_entry_is_proved_in_the_log_offline(running: Running, tmp_path: Path) -> None:
    entry = sealed_entries(running)[0]
    request = urllib.request.Request(
        running.api + entry["inclusion_proof"],
        headers={"Authorization": f"Bearer {demo_token(running, 'ALEX')}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        proof = json.load(response)
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    (tmp_path / "log.vkey").write_text(get_json(f"{running.api}/v1/log/key")["verifier_key"])

    checked = ledger_cli(
        running,
        "verify",
        "--inclusion",
        str(tmp_path / "proof.json"),
        "--key",
        str(tmp_path / "log.vkey"),
    )

    assert checked.returncode == 0, checked.stderr
    assert f"ledger position {entry['position']} (leaf {entry['leaf_index']})" in checked.stdout
    assert proof["leaf_hash"] == entry["leaf_hash"]


def test_the_running_log_audits_clean_and_exports(running: Running, tmp_path: Path) -> None:
    sealed_entries(running)
    audited = ledger_cli(running, "verify", "--audit")
    exported = ledger_cli(running, "export", str(tmp_path / "log.jsonl"))

    assert audited.returncode == 0, audited.stderr
    assert audited.stdout.startswith("OK: ") and "audit [" in audited.stderr
    # The demo's administration, services, accesses, shares and consents, every one
    # checked back to the administrators' key:
    assert "events was recorded from an envelope signed by a key the root" in audited.stdout
    assert exported.returncode == 0, exported.stderr


def test_the_checkpoint_is_served_as_a_signed_note(running: Running) -> None:
    request = urllib.request.Request(
        f"{running.api}/v1/log/checkpoint",
        headers={"Authorization": f"Bearer {demo_token(running, 'AUDITOR')}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        note = response.read().decode()

    assert note.startswith("ledger.example/log\n") and "\n\n\u2014 ledger.example/log " in note
