"""Through the real processes (`ledger run`, demo data): a citizen's timeline entry
carries its leaf, its inclusion proof checks offline with only the log's public key,
and the whole log audits clean."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
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


def _get(url: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def readable(text: str) -> str:
    """``text`` and, for each JSON string in it that is base64 (a leaf input, a stored
    state, a disclosable form), what it decodes to: where a pseudonym could hide."""
    found = [text]

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and len(value) >= 16:
            with contextlib.suppress(ValueError):
                found.append(base64.b64decode(value, validate=True).decode("latin-1"))
            with contextlib.suppress(ValueError):
                found.append(base64.urlsafe_b64decode(value + "==").decode("latin-1"))

    for line in text.splitlines() or [text]:
        with contextlib.suppress(ValueError):
            walk(json.loads(line))
    return "\n".join(found)


def test_a_service_walking_the_log_reads_only_its_own_organisations_events(
    running: Running, tmp_path: Path
) -> None:
    """The cross-organisation walk: DWP's service asks for every position's proof and
    content, and the operator exports the log; no answer holds a pseudonym, and the
    content of another organisation's event is refused."""
    sealed_entries(running)
    database = f"postgresql://postgres@127.0.0.1:{running.env['LEDGER_EMBEDDED_PG_PORT']}/postgres"
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT e.notification_id, e.state FROM ledger_events e "
            "JOIN ledger_log_leaves l ON l.position = e.notification_id ORDER BY 1"
        ).fetchall()
    pseudonyms: set[str] = set()
    dwps: set[int] = set()
    for position, state in rows:
        event = json.loads(bytes(state))
        pseudonyms |= set(event.get("subject_keys") or [])
        pseudonyms |= {event[k] for k in ("subject_key", "official_key") if event.get(k)}
        source = event.get("source") or (event.get("submission") or {}).get("source") or ""
        if source.startswith("urn:ledger:service:dwp:"):
            dwps.add(position)
    assert pseudonyms and dwps and len(dwps) < len(rows), "the demo holds several bodies' events"
    token = demo_token(running, "DWP_SERVICE")

    shown: set[int] = set()
    for position, _ in rows:
        status, proof = _get(f"{running.api}/v1/log/proofs/inclusion?position={position}", token)
        assert status == 200 and not any(p in readable(proof) for p in pseudonyms), position
        status, content = _get(f"{running.api}/v1/log/events/{position}", token)
        assert status in (200, 403), (position, status, content)
        assert not any(p in readable(content) for p in pseudonyms), position
        if status == 200:
            shown.add(position)
    exported = ledger_cli(running, "export", str(tmp_path / "log.jsonl"))
    assert exported.returncode == 0, exported.stderr
    export = readable((tmp_path / "log.jsonl").read_text())

    assert shown == dwps
    assert not any(p in export for p in pseudonyms)
