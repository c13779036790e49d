"""Through the real processes (`ledger run`, demo data, a four-day retention of
accesses applied every two seconds by the `dispose` process): old accesses are erased by
the schedule and Sam's records at DWP by an upheld request over HTTP; the timelines say
"details removed" where each entry was, the others are intact, the log audits clean and
an erased entry's inclusion proof still checks offline."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.support.ledger import wait_until

pytestmark = pytest.mark.e2e

ALEX, SAM, JO = (
    "nhs-number:9434765919",
    "nino:AB123456C",
    "one-login:urn:fdc:gov.uk:2022:demo-citizen-jo-0001",
)
RETENTION = (
    "data-accessed=P4D,data-shared=P6Y,consent=P6Y,objection=P6Y,"
    "subject-access-request=P2Y,query=P2Y,conflict=P6Y"
)


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with server_dir("ledger-erasure-home-") as home:
        running = start_ledger(
            home, LEDGER_RETENTION=RETENTION, LEDGER_RETENTION_INTERVAL_SECONDS="2"
        )
        yield running
        stop_ledger(running)


def timeline(running: Running, subject: str, name: str) -> list[dict[str, Any]]:
    url = f"{running.api}/v1/citizens/{subject}/timeline"
    return list(get_json(url, demo_token(running, name))["entries"])


def sealed(running: Running, position: int) -> bool:
    """Whether the log's tree holds the event at ``position`` (its inclusion proof is
    served)."""
    request = urllib.request.Request(
        f"{running.api}/v1/log/proofs/inclusion?position={position}",
        headers={"Authorization": f"Bearer {demo_token(running, 'AUDITOR')}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False


def post(running: Running, path: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        running.api + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_the_schedule_and_an_upheld_request_erase_and_the_log_still_proves_it(
    running: Running, tmp_path: Path
) -> None:
    # The schedule: Alex's accesses of 9 and 20 days ago go, their DWP one of 2 days stays.
    alex = wait_until(
        lambda: (
            (t := timeline(running, ALEX, "ALEX"))
            and sum(e["kind"] == "erased" for e in t) == 2
            and t
        ),
        timeout=60,
        what="the schedule to erase two of Alex's accesses",
    )
    erased = [e for e in alex if e["kind"] == "erased"]
    assert all(e["summary"].endswith("under the retention schedule.") for e in erased)
    assert any(e["kind"] == "data-accessed" for e in alex)
    assert any(e["kind"] == "consent" for e in alex)  # consents are kept six years
    (jo,) = timeline(running, JO, "JO")
    assert jo["kind"] == "data-accessed"  # three days old: kept

    # DWP's officer upholds Sam's request: the share that named Sam (and eleven others).
    status, body = post(
        running,
        "/v1/dsar/erasures",
        {
            "subject": SAM,
            "decision": "upheld",
            "basis": "UK GDPR Article 17(1)(a): no longer necessary",
        },
        demo_token(running, "DWP_DSAR_OFFICER"),
    )
    assert status == 201, body
    assert body["events_erased"] == 1
    sam = wait_until(
        lambda: (
            (t := timeline(running, SAM, "SAM"))
            and any("request to erase your data was agreed" in e["summary"] for e in t)
            and t
        ),
        timeout=60,
        what="Sam's timeline to show the upheld request",
    )
    kinds = sorted(e["kind"] for e in sam)
    assert kinds == ["data-accessed", "erased", "erased"], sam  # HMRC's access of yesterday stays

    # The log: every leaf still recomputes, every erasure is accounted for.
    # The erasures' own events sealed first (the log seals in order: the request's last).
    wait_until(
        lambda: sealed(running, max(body["positions"])), what="the erasure's event to be sealed"
    )
    audited = ledger_cli(running, "verify", "--audit")
    assert audited.returncode == 0, audited.stderr
    assert "events erased: their data keys are destroyed" in audited.stdout, audited.stdout

    # An erased entry's inclusion proof still checks, offline, with the log's key only.
    position = erased[0]["position"]
    request = urllib.request.Request(
        f"{running.api}/v1/log/proofs/inclusion?position={position}",
        headers={"Authorization": f"Bearer {demo_token(running, 'AUDITOR')}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        (tmp_path / "proof.json").write_bytes(response.read())
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
    assert f"ledger position {position}" in checked.stdout
