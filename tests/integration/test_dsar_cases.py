"""Subject access requests and queries end to end through the API, on real servers: an
officer runs a case from receipt to a verified response, each step visible in the case
view with the due date the clock gives, in the citizen's timeline in plain English, and
in the log; the denials and refused transitions answer problem details."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ledger_emitter import canonical

from api.app import create_app
from ledger.application import Ledger
from ledger.dsar.clock import Pause, Request, deadline
from ledger.dsar.holidays import Nation, bundled_calendar
from ledger.dsar.keys import enable
from ledger.incoming import Direct, Incoming, Status
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer
from ledger.writing import WritePath
from projections.wording import UK
from tests.support.ledger import access_data, administration, register_dwp
from tests.support.tokens import bearer
from tests.support.views import running_projections

pytestmark = pytest.mark.integration

ALEX = "nhs-number:9434765919"
SAM = "nhs-number:4010232137"


@pytest.fixture
def world(settings: Settings) -> Iterator[dict[str, Any]]:
    """DWP (with an access service) and HMRC, both with DSAR keys; one access by DWP
    to Alex's record, one to Sam's; the projections running."""
    ledger = Ledger.from_settings(settings)
    emitter = register_dwp(ledger)
    admin = administration(ledger)
    admin.register_organisation("HMRC", "HM Revenue and Customs", nation="scotland")
    assert ledger.trust is not None
    for organisation in ("DWP", "HMRC"):
        enable(admin, ledger.trust.keyring, organisation)
    path = WritePath.from_settings(settings)
    positions = {}
    for who, number in (("alex", "9434765919"), ("sam", "4010232137")):
        event = emitter.build("uk.gov.ledger.data-accessed.v1", access_data(number))
        (outcome,) = path.submit([Incoming(canonical(event), Direct())])
        assert outcome.status is Status.RECORDED, outcome
        positions[who] = outcome.position
    path.close()
    ledger.close()
    with running_projections(settings), TestClient(create_app(settings)) as api:
        yield {"api": api, "positions": positions}


def seal(settings: Settings) -> None:
    sealer = Sealer.from_settings(settings)
    sealer.seal()
    sealer.close()


def officer(settings: Settings, organisation: str = "DWP") -> dict[str, str]:
    return bearer(settings, "dsar-officer", organisation=organisation, name="DWP-DSAR-0007")


def today() -> date:
    return datetime.now(UK).date()


def expected(**facts: Any) -> date:
    request = Request(received=today(), **facts)
    return deadline(request, Nation.ENGLAND_AND_WALES, bundled_calendar(), today=today()).due


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/" + code), response.json()


def test_a_request_from_receipt_to_a_verified_response(
    settings: Settings, world: dict[str, Any], tmp_path: Path
) -> None:
    api: TestClient = world["api"]
    me = officer(settings)
    opened = ok(
        api.post(
            "/v1/dsar/requests",
            json={"subject": ALEX, "channel": "email", "identity_required": True},
            headers=me,
        ),
        201,
    )
    reference = opened["reference"]
    assert opened["state"] == "awaiting-identity"
    assert opened["due"] is None and opened["deadline"] is None  # the clock has not started
    url = f"/v1/dsar/requests/{reference}"

    problem(api.post(url + "/responded", json={}, headers=me), 409, "identity-not-verified")
    problem(api.post(url + "/closed", json={}, headers=me), 409, "not-answered")

    verified = ok(
        api.post(
            url + "/identity-verified",
            json={"method": {"code": "passport", "text": "Passport seen"}},
            headers=me,
        )
    )
    assert verified["state"] == "in-progress"
    assert verified["due"] == expected(identity_verified=today()).isoformat()
    assert verified["deadline"]["explanation"]  # each step in plain English

    paused = ok(api.post(url + "/clarification-requested", json={}, headers=me))
    assert paused["state"] == "paused" and paused["deadline"]["stopped"]
    resumed = ok(api.post(url + "/clarification-received", json={}, headers=me))
    pause = (Pause(today(), today()),)
    assert resumed["state"] == "in-progress"
    assert resumed["deadline"]["paused_days"] == 1
    assert resumed["due"] == expected(identity_verified=today(), pauses=pause).isoformat()

    extended = ok(
        api.post(
            url + "/extended", json={"months": 2, "reason": "records in six systems"}, headers=me
        )
    )
    assert (
        extended["due"]
        == expected(
            identity_verified=today(), pauses=pause, extended=True, extension_months=2
        ).isoformat()
    )
    problem(
        api.post(url + "/extended", json={"months": 1, "reason": "more"}, headers=me),
        409,
        "already-extended",
    )
    problem(api.post(url + "/extended", json={"months": 1}, headers=me), 422, "invalid-body")

    seal(settings)
    answered = ok(api.post(url + "/responded", json={"channel": "portal"}, headers=me))
    assert answered["state"] == "responded"
    sha256 = answered["outcome"]["bundle_sha256"]
    steps = [step["step"] for step in answered["history"]]
    assert steps == [
        "received",
        "identity-verified",
        "clarification-requested",
        "clarification-received",
        "extended",
        "responded",
    ]
    assert all(
        step["by_officer"] and "DWP-DSAR" not in step["by_officer"] for step in answered["history"]
    )
    problem(
        api.post(url + "/extended", json={"months": 1, "reason": "x"}, headers=me),
        409,
        "case-answered",
    )

    # The bundle: as sent, its hash in the log, checked offline; a tampered copy fails.
    bundle = api.get(url + "/bundle", headers=me)
    assert bundle.status_code == 200
    assert hashlib.sha256(bundle.content).hexdigest() == sha256
    document = json.loads(bundle.content)
    assert any(item["position"] == world["positions"]["alex"] for item in document["items"])
    assert all(item["position"] != world["positions"]["sam"] for item in document["items"])
    assert "staff-0042" not in bundle.text  # the official is redacted by default
    for form, kind in (("html", "text/html"), ("pdf", "application/pdf")):
        rendered = api.get(url + "/bundle", params={"format": form}, headers=me)
        assert rendered.status_code == 200 and rendered.headers["content-type"].startswith(kind)
    good = tmp_path / "bundle.json"
    good.write_bytes(bundle.content)
    assert verify_bundle(api, good).returncode == 0
    tampered = tmp_path / "tampered.json"
    (access,) = [i for i in document["items"] if i["position"] == world["positions"]["alex"]]
    access["sentence"] = access["sentence"].replace("looked at", "deleted")
    tampered.write_text(json.dumps(document))
    failed = verify_bundle(api, tampered)
    assert failed.returncode == 1, failed.stdout + failed.stderr

    # The citizen: every step in plain English in the timeline; the request and its answer.
    alex = bearer(settings, "citizen", ALEX)
    timeline = ok(api.get(f"/v1/citizens/{ALEX}/timeline", headers=alex))
    sentences = [e["summary"] for e in timeline["entries"] if e["kind"] == "subject-access-request"]
    assert len(sentences) == 6
    assert any("gave itself more time to answer your request" in s for s in sentences)
    assert all("sar-" not in s and "uk.gov" not in s for s in sentences)
    mine = ok(api.get(f"/v1/citizens/{ALEX}/requests", headers=alex))["cases"]
    (request,) = [c for c in mine if c["reference"] == reference]
    assert request["bundle_available"] and request["state"] == "responded"
    assert "has answered your request" in request["summary"]
    download = api.get(f"/v1/citizens/{ALEX}/requests/DWP/{reference}/bundle", headers=alex)
    assert download.status_code == 200 and download.content == bundle.content

    # The log: every step is a sealed, provable event.
    seal(settings)
    for step in answered["history"]:
        proof = api.get(
            "/v1/log/proofs/inclusion", params={"position": step["position"]}, headers=me
        )
        assert proof.status_code == 200, proof.text

    closed = ok(api.post(url + "/closed", json={}, headers=me))
    assert closed["state"] == "closed"
    problem(api.post(url + "/closed", json={}, headers=me), 409, "case-closed")


def verify_bundle(api: TestClient, path: Path) -> subprocess.CompletedProcess[str]:
    """``ledger verify bundle`` in a process of its own, with only the log's public key
    (as anyone gets it: ``GET /v1/log/key``)."""
    public = api.get("/v1/log/key").json()["verifier_key"]
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "verify", "bundle", str(path), "--key", public],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_officers_see_and_act_on_their_own_organisations_cases_only(
    settings: Settings, world: dict[str, Any]
) -> None:
    api: TestClient = world["api"]
    dwp, hmrc = officer(settings), officer(settings, "HMRC")
    reference = ok(
        api.post(
            "/v1/dsar/requests",
            json={"subject": ALEX, "channel": "post", "identity_required": False},
            headers=dwp,
        ),
        201,
    )["reference"]
    url = f"/v1/dsar/requests/{reference}"
    problem(api.get(url, headers=hmrc), 404, "case-not-found")
    problem(
        api.post(url + "/clarification-requested", json={}, headers=hmrc), 404, "case-not-found"
    )
    problem(api.get(url + "/bundle", headers=hmrc), 404, "case-not-found")
    assert ok(api.get("/v1/dsar/cases", headers=hmrc))["cases"] == []
    assert [c["reference"] for c in ok(api.get("/v1/dsar/cases", headers=dwp))["cases"]] == [
        reference
    ]
    # Not an officer, no organisation, no token.
    problem(api.get(url, headers=bearer(settings, "citizen", ALEX)), 403, "forbidden")
    problem(api.get(url, headers=bearer(settings, "service", organisation="DWP")), 403, "forbidden")
    problem(api.get(url, headers=bearer(settings, "dsar-officer")), 403, "forbidden")
    problem(api.get(url), 401, "token-missing")
    # A citizen sees only their own requests.
    sam = bearer(settings, "citizen", SAM)
    assert ok(api.get(f"/v1/citizens/{SAM}/requests", headers=sam))["cases"] == []
    problem(api.get(f"/v1/citizens/{ALEX}/requests", headers=sam), 403, "forbidden")
    problem(
        api.get(f"/v1/citizens/{SAM}/requests/DWP/{reference}/bundle", headers=sam),
        404,
        "case-not-found",
    )


def test_the_queue_sorts_by_due_date_and_filters(settings: Settings, world: dict[str, Any]) -> None:
    api: TestClient = world["api"]
    dwp = officer(settings)
    references = []
    for days_ago, identity in ((3, False), (10, False), (1, True)):
        received = datetime.now(UTC) - timedelta(days=days_ago)
        body = {
            "subject": ALEX,
            "channel": "online",
            "identity_required": identity,
            "received_at": received.isoformat(),
        }
        references.append(
            ok(api.post("/v1/dsar/requests", json=body, headers=dwp), 201)["reference"]
        )
    queue = ok(api.get("/v1/dsar/cases", headers=dwp))["cases"]
    # Soonest due first; the one still awaiting identity (no due date) last.
    assert [c["reference"] for c in queue] == [references[1], references[0], references[2]]
    assert [c["due"] is None for c in queue] == [False, False, True]
    waiting = ok(api.get("/v1/dsar/cases", params={"state": "awaiting-identity"}, headers=dwp))
    assert [c["reference"] for c in waiting["cases"]] == [references[2]]
    first = ok(api.get("/v1/dsar/cases", params={"limit": 1}, headers=dwp))
    second = ok(api.get("/v1/dsar/cases", params={"limit": 1, "after": first["next"]}, headers=dwp))
    assert [first["cases"][0]["reference"], second["cases"][0]["reference"]] == references[1::-1]
    assert ok(api.get("/v1/dsar/cases", params={"overdue": "true"}, headers=dwp))["cases"] == []
    problem(
        api.get("/v1/dsar/cases", params={"after": "nonsense!"}, headers=dwp), 400, "invalid-cursor"
    )


def test_a_citizens_query_about_an_access_is_answered_in_their_timeline(
    settings: Settings, world: dict[str, Any]
) -> None:
    api: TestClient = world["api"]
    alex = bearer(settings, "citizen", ALEX)
    position = world["positions"]["alex"]
    problem(
        api.post(
            f"/v1/citizens/{ALEX}/queries",
            json={"position": world["positions"]["sam"]},
            headers=alex,
        ),
        404,
        "entry-not-found",
    )
    raised = ok(
        api.post(
            f"/v1/citizens/{ALEX}/queries",
            json={"position": position, "concern": "dont-recognise-reason"},
            headers=alex,
        ),
        201,
    )
    assert raised["organisation"]["code"] == "DWP" and raised["state"] == "open"
    assert raised["due"] is not None  # one calendar month, like a request
    dwp = officer(settings)
    queue = ok(api.get("/v1/dsar/cases", params={"kind": "query"}, headers=dwp))["cases"]
    assert [c["reference"] for c in queue] == [raised["reference"]]
    url = f"/v1/dsar/queries/{raised['reference']}"
    case = ok(api.get(url, headers=dwp))
    assert case["about_position"] == position
    problem(
        api.post(url + "/answer", json={"explanation": "x"}, headers=officer(settings, "HMRC")),
        404,
        "case-not-found",
    )
    explanation = "Our benefits team checked your claim after you reported a new address."
    answered = ok(api.post(url + "/answer", json={"explanation": explanation}, headers=dwp))
    assert answered["state"] == "answered"
    problem(
        api.post(url + "/answer", json={"explanation": "again"}, headers=dwp), 409, "case-answered"
    )
    timeline = ok(api.get(f"/v1/citizens/{ALEX}/timeline", headers=alex))
    said = [e["summary"] for e in timeline["entries"] if e["kind"] == "query"]
    assert any(explanation in s and "answered your question" in s for s in said), said
    mine = ok(api.get(f"/v1/citizens/{ALEX}/requests", headers=alex))["cases"]
    assert [c["explanation"] for c in mine if c["kind"] == "query"] == [explanation]


def test_a_citizen_asks_for_their_data_and_sees_when_it_is_due(
    settings: Settings, world: dict[str, Any]
) -> None:
    api: TestClient = world["api"]
    sam = bearer(settings, "citizen", SAM)
    opened = ok(
        api.post(f"/v1/citizens/{SAM}/requests", json={"organisation": "HMRC"}, headers=sam), 201
    )
    due = deadline(
        Request(received=today()), Nation.SCOTLAND, bundled_calendar(), today=today()
    ).due
    assert opened["due"] == due.isoformat()
    assert opened["state"] == "in-progress"
    assert f"must answer by {opened['due_text']}" in opened["summary"]
    problem(
        api.post(f"/v1/citizens/{SAM}/requests", json={"organisation": "NOBODY"}, headers=sam),
        404,
        "organisation-unknown",
    )
    hmrc = officer(settings, "HMRC")
    queue = ok(api.get("/v1/dsar/cases", headers=hmrc))["cases"]
    assert [c["reference"] for c in queue] == [opened["reference"]]


def test_an_official_is_disclosed_only_by_an_officers_recorded_decision(
    settings: Settings, world: dict[str, Any]
) -> None:
    api: TestClient = world["api"]
    dwp = officer(settings)
    opened = ok(
        api.post(
            "/v1/dsar/requests",
            json={"subject": ALEX, "channel": "online", "identity_required": False},
            headers=dwp,
        ),
        201,
    )
    url = f"/v1/dsar/requests/{opened['reference']}"
    access = world["positions"]["alex"]
    problem(
        api.post(url + "/redactions", json={"position": access, "disclose": True}, headers=dwp),
        422,
        "invalid-body",
    )  # a reason is required
    decided = ok(
        api.post(
            url + "/redactions",
            json={"position": access, "disclose": True, "reason": "the requester knows them"},
            headers=dwp,
        )
    )
    [decision] = decided["redactions"]
    assert decision["item_position"] == access and decision["disclose"]
    assert decision["by_officer"] and "DWP-DSAR" not in decision["by_officer"]
    seal(settings)
    ok(api.post(url + "/responded", headers=dwp))
    bundle = api.get(url + "/bundle", headers=dwp).text
    assert "staff-0042" in bundle  # disclosed, as the officer decided, with the reason
    assert "the requester knows them" in bundle


def test_due_dates_are_computed_again_when_the_calendar_changes(
    settings: Settings, world: dict[str, Any]
) -> None:
    """A bank holiday announced late moves deadlines already running: the view keeps the
    fingerprint of the calendar each sort key was computed with, and computes again those
    computed with another."""
    import psycopg

    from projections.cases import CasesProjection

    api: TestClient = world["api"]
    opened = ok(
        api.post(
            "/v1/dsar/requests",
            json={"subject": ALEX, "channel": "post", "identity_required": False},
            headers=officer(settings),
        ),
        201,
    )
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "UPDATE cases.cases SET calendar = 'an older calendar', due = NULL "
            "WHERE reference = %s",
            (opened["reference"],),
        )
        conn.commit()
        assert CasesProjection().outdated(conn)
        conn.rollback()
        assert CasesProjection().recompute(conn) == 1
        due = conn.execute(
            "SELECT due FROM cases.cases WHERE reference = %s", (opened["reference"],)
        ).fetchone()
    assert due is not None and due[0].isoformat() == opened["due"]
