"""Through the real processes (`ledger run`, demo data, database roles on): a DWP
officer runs Alex's subject access request from receipt to a response, over HTTP; each
step is in the case view with its due date, in Alex's timeline in plain English and in
the log; the response checks offline with `ledger verify bundle` and a tampered copy
fails. Alex asks about one access and reads the answer in their timeline."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.dsar.clock import Pause, Request, deadline
from ledger.dsar.holidays import Nation, bundled_calendar
from projections.wording import UK
from tests.e2e.test_ledger_run import (
    Running,
    demo_token,
    get_json,
    ledger_cli,
    start_ledger,
    stop_ledger,
)
from tests.e2e.test_verify_timeline import sealed_entries
from tests.support.folders import server_dir

pytestmark = pytest.mark.e2e

ALEX = "nhs-number:9434765919"


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with server_dir("ledger-e2e-dsar-") as home:
        running = start_ledger(home)
        yield running
        stop_ledger(running)


def call(
    running: Running, method: str, path: str, token: str, body: Any = None
) -> tuple[int, dict[str, Any], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        running.api + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as refused:
        raw, status = refused.read(), refused.code
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {}, raw


def until_sealed(running: Running, officer: str, path: str, timeout: float = 30) -> dict[str, Any]:
    """The case, once every step of its history is sealed into the log (the sealer runs
    every second)."""
    deadline = time.monotonic() + timeout
    while True:
        _, case, _ = call(running, "GET", path, officer)
        proofs = [
            call(running, "GET", f"/v1/log/proofs/inclusion?position={s['position']}", officer)[0]
            for s in case["history"]
        ]
        if all(status == 200 for status in proofs):
            return case
        if time.monotonic() > deadline:
            raise AssertionError(f"case steps not sealed after {timeout} s: {proofs}")
        time.sleep(0.5)


def test_an_officer_answers_a_request_with_a_response_anyone_can_check(
    running: Running, tmp_path: Path
) -> None:
    officer = demo_token(running, "DWP_DSAR_OFFICER")
    alex = demo_token(running, "ALEX")
    status, opened, _ = call(
        running,
        "POST",
        "/v1/dsar/requests",
        officer,
        {"subject": ALEX, "channel": "email", "identity_required": True},
    )
    assert status == 201, opened
    path = f"/v1/dsar/requests/{opened['reference']}"
    assert opened["state"] == "awaiting-identity" and opened["due"] is None

    steps: list[tuple[str, dict[str, Any], str]] = [
        ("identity-verified", {"method": {"code": "passport", "text": "Passport"}}, "in-progress"),
        ("clarification-requested", {}, "paused"),
        ("clarification-received", {}, "in-progress"),
        ("extended", {"months": 2, "reason": "records are held in six systems"}, "in-progress"),
    ]
    dues = []
    for action, body, state in steps:
        status, case, _ = call(running, "POST", f"{path}/{action}", officer, body)
        assert status == 200, case
        assert case["state"] == state
        dues.append(case["due"])
    # Verified: the month runs; paused: stopped; resumed: the paused day added, then the
    # working-day rule; extended: two further months. The demo's bodies are in England.
    today = datetime.now(UK).date()
    pause = (Pause(today, today),)
    expected = [
        Request(today, identity_verified=today),
        None,
        Request(today, identity_verified=today, pauses=pause),
        Request(today, identity_verified=today, pauses=pause, extended=True),
    ]
    for due, request in zip(dues, expected, strict=True):
        if request is not None:
            found = deadline(request, Nation.ENGLAND_AND_WALES, bundled_calendar(), today=today)
            assert due == found.due.isoformat()
    status, refused, _ = call(
        running, "POST", f"{path}/extended", officer, {"months": 1, "reason": "x"}
    )
    assert status == 409 and refused["type"].endswith("/already-extended")

    sealed_entries(running)  # Alex's accesses are in the log: the search finds them
    status, answered, _ = call(running, "POST", f"{path}/responded", officer, {"channel": "portal"})
    assert status == 200, answered
    assert answered["state"] == "responded" and answered["outcome"]["records"] >= 3

    status, _, bundle = call(running, "GET", f"{path}/bundle", officer)
    assert status == 200
    (tmp_path / "response.json").write_bytes(bundle)
    (tmp_path / "log.vkey").write_text(get_json(f"{running.api}/v1/log/key")["verifier_key"])
    checked = ledger_cli(
        running,
        "verify",
        "bundle",
        str(tmp_path / "response.json"),
        "--key",
        str(tmp_path / "log.vkey"),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    document = json.loads(bundle)
    document["items"] = document["items"][1:]  # a line taken out of the response
    (tmp_path / "tampered.json").write_text(json.dumps(document))
    tampered = ledger_cli(
        running,
        "verify",
        "bundle",
        str(tmp_path / "tampered.json"),
        "--key",
        str(tmp_path / "log.vkey"),
    )
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr

    # Alex: each step in plain English, and the answer to download.
    timeline = get_json(f"{running.api}/v1/citizens/{ALEX}/timeline", alex)
    said = [e["summary"] for e in timeline["entries"] if e["kind"] == "subject-access-request"]
    assert len(said) == 6, said
    assert any(
        s.startswith("The Department for Work and Pensions asked you to make clear") for s in said
    )
    status, _, download = call(
        running, "GET", f"/v1/citizens/{ALEX}/requests/DWP/{opened['reference']}/bundle", alex
    )
    assert status == 200 and download == bundle

    # The log: every step of the case is a sealed event with an inclusion proof.
    until_sealed(running, officer, path)


def test_alex_asks_about_an_access_and_reads_the_answer(running: Running) -> None:
    alex = demo_token(running, "ALEX")
    officer = demo_token(running, "DWP_DSAR_OFFICER")
    entry = next(
        e
        for e in sealed_entries(running)
        if e["kind"] == "data-accessed" and e["organisation"]["code"] == "DWP"
    )
    status, raised, _ = call(
        running,
        "POST",
        f"/v1/citizens/{ALEX}/queries",
        alex,
        {"position": entry["position"], "concern": "dont-recognise-reason"},
    )
    assert status == 201, raised
    explanation = "A work coach checked your claim after you reported a change of address."
    status, answered, _ = call(
        running,
        "POST",
        f"/v1/dsar/queries/{raised['reference']}/answer",
        officer,
        {"explanation": explanation},
    )
    assert status == 200 and answered["state"] == "answered", answered
    timeline = get_json(f"{running.api}/v1/citizens/{ALEX}/timeline", alex)
    assert any(e["kind"] == "query" and explanation in e["summary"] for e in timeline["entries"]), (
        timeline
    )
