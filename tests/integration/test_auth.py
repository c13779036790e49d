"""Access control on every endpoint: each denial is a 401 or 403 problem that says only
which it was, and nothing about the data behind it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.settings import Settings
from tests.support.tokens import bearer, token

pytestmark = pytest.mark.integration

ALEX, SAM = "nhs-number:9434765919", "nino:AB123456C"


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def assert_denied(response: object, status: int, code: str, *secrets: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["type"].endswith("/" + code) and body["status"] == status
    for secret in secrets:
        assert secret not in response.text  # type: ignore[attr-defined]


def test_without_a_token_every_route_but_health_and_the_log_key_is_401(
    api: TestClient, settings: Settings
) -> None:
    routes = [
        ("GET", f"/v1/citizens/{ALEX}/timeline"),
        ("GET", f"/v1/citizens/{ALEX}/consents"),
        ("GET", f"/v1/citizens/{ALEX}/consents/1/receipt"),
        ("GET", "/v1/agreements"),
        ("GET", "/v1/findings"),
        ("GET", "/v1/statistics"),
        ("POST", "/v1/decisions/share"),
        ("GET", "/v1/log/tree-heads/latest"),
        ("GET", "/v1/log/checkpoint"),
        ("GET", "/v1/log/proofs/inclusion?position=1"),
        ("GET", "/v1/log/proofs/consistency?first=1"),
        ("POST", "/v1/events"),
    ]
    for method, path in routes:
        response = api.request(method, path)
        assert_denied(response, 401, "token-missing", "9434765919")
        assert response.headers["www-authenticate"] == "Bearer"
    assert api.get("/healthz").status_code == 200
    assert api.get("/v1/log/key").status_code == 200


READS = [
    f"/v1/citizens/{ALEX}/timeline",
    f"/v1/citizens/{ALEX}/consents",
    f"/v1/citizens/{ALEX}/consents/1/receipt",
    "/v1/agreements",
    "/v1/findings",
    "/v1/statistics",
]
FAR = 10**12  # a ledger position no view will reach


@pytest.fixture
def patient(settings: Settings) -> Iterator[TestClient]:
    """An API whose reads wait long for a view: a refusal must not wait at all."""
    with TestClient(create_app(dataclasses.replace(settings, read_wait_seconds=10))) as client:
        yield client


def far_ahead(api: TestClient, path: str, headers: dict[str, str]) -> list[object]:
    """The answers to a read naming a far position, by query and by header, each
    answered in well under the wait."""
    answers = []
    for params, header in (({"position": FAR}, {}), ({}, {"Ledger-Position": str(FAR)})):
        started = time.monotonic()
        response = api.get(path, params=params, headers={**headers, **header})
        assert time.monotonic() - started < 5, f"{path} waited before refusing"
        answers.append(response)
    return answers


def test_a_read_without_a_token_is_401_at_once_whatever_position_it_names(
    patient: TestClient,
) -> None:
    for path in READS:
        for response in far_ahead(patient, path, {}):
            assert_denied(response, 401, "token-missing")


def test_a_read_outside_the_callers_role_is_403_at_once_whatever_position_it_names(
    patient: TestClient, settings: Settings
) -> None:
    auditor = bearer(settings, "auditor")
    sam = bearer(settings, "citizen", SAM)
    outside = [
        (f"/v1/citizens/{ALEX}/timeline", auditor),
        (f"/v1/citizens/{ALEX}/consents", bearer(settings, "service", organisation="DWP")),
        (f"/v1/citizens/{ALEX}/timeline", sam),  # a citizen, but not this one
        (f"/v1/citizens/{ALEX}/consents", sam),
        (f"/v1/citizens/{ALEX}/consents/1/receipt", sam),
        (f"/v1/citizens/{ALEX}/consents/1/receipt", auditor),
        ("/v1/findings", sam),
        ("/v1/statistics", bearer(settings, "dsar-officer", organisation="DWP")),
        ("/v1/agreements", sam),
    ]
    for path, headers in outside:
        for response in far_ahead(patient, path, headers):
            assert_denied(response, 403, "forbidden", "9434765919")


def test_a_token_whose_claims_have_the_wrong_types_is_401_not_a_server_error(
    api: TestClient, settings: Settings
) -> None:
    from api.auth.tokens import DevIssuer
    from ledger.keyring import Keyring

    issuer = DevIssuer(Keyring.from_settings(settings), settings)
    now = int(time.time())
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "sub": "x", "iat": now}
    odd = issuer.sign({**claims, "exp": now + 60, "roles": ["citizen"], "ledger_subjects": 5})

    response = api.get(f"/v1/citizens/{ALEX}/timeline", headers={"Authorization": f"Bearer {odd}"})

    assert_denied(response, 401, "token-invalid")


def test_a_citizen_cannot_read_another_citizens_timeline_or_consents(
    api: TestClient, settings: Settings
) -> None:
    sam = bearer(settings, "citizen", SAM)

    assert_denied(
        api.get(f"/v1/citizens/{ALEX}/timeline", headers=sam), 403, "forbidden", "9434765919"
    )
    assert_denied(api.get(f"/v1/citizens/{ALEX}/consents", headers=sam), 403, "forbidden")
    assert api.get(f"/v1/citizens/{SAM}/timeline", headers=sam).status_code == 200


def test_an_expired_token_is_401(api: TestClient, settings: Settings) -> None:
    old = token(settings, "citizen", ALEX, lifetime=60, now=time.time() - 3600)

    response = api.get(f"/v1/citizens/{ALEX}/timeline", headers={"Authorization": f"Bearer {old}"})

    assert_denied(response, 401, "token-expired", "9434765919")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_token_for_another_audience_is_401(api: TestClient, settings: Settings) -> None:
    other = bearer(settings, "citizen", ALEX, audience="urn:some-other-api")

    assert_denied(api.get(f"/v1/citizens/{ALEX}/timeline", headers=other), 401, "token-invalid")


def test_a_forged_signature_is_401(api: TestClient, settings: Settings) -> None:
    genuine = token(settings, "citizen", SAM)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims["ledger_subjects"] = [ALEX]  # Sam tries to claim Alex's record
    header, _, signature = genuine.split(".")
    forged_body = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    forged = f"{header}.{forged_body}.{signature}"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    self_signed = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA")
    alg_none = jwt.encode(claims, None, algorithm="none")

    for bad in (forged, self_signed, alg_none, "not-a-jwt"):
        response = api.get(
            f"/v1/citizens/{ALEX}/timeline", headers={"Authorization": f"Bearer {bad}"}
        )
        assert_denied(response, 401, "token-invalid", "9434765919", "ledger_subjects")


def test_each_role_outside_its_scope_is_403(api: TestClient, settings: Settings) -> None:
    citizen = bearer(settings, "citizen", ALEX)
    auditor = bearer(settings, "auditor")
    hmrc = bearer(settings, "service", organisation="HMRC")
    officer = bearer(settings, "dsar-officer", organisation="DWP")
    question = {
        "sender": "DWP",
        "recipient": "HMRC",
        "subject": ALEX,
        "purpose": "uc-earnings",
        "categories": ["income"],
    }

    denied = [
        api.get("/v1/findings", headers=citizen),  # findings are for auditors
        api.get("/v1/statistics", headers=hmrc),
        api.get(f"/v1/citizens/{ALEX}/timeline", headers=auditor),  # no personal data
        api.get(f"/v1/citizens/{ALEX}/timeline", headers=officer),  # only through a case
        api.post("/v1/decisions/share", json=question, headers=citizen),
        api.post("/v1/decisions/share", json=question, headers=hmrc),  # not HMRC's share
        api.post("/v1/events", content=b"{}", headers=auditor),
    ]
    for response in denied:
        assert_denied(response, 403, "forbidden", "9434765919")
    assert api.get("/v1/findings", headers=auditor).status_code == 200
    assert api.get("/v1/statistics", headers=auditor).status_code == 200


def test_a_service_may_emit_only_events_signed_for_its_own_organisation(
    settings: Settings,
) -> None:
    from typing import Any

    from ledger.application import Ledger
    from tests.support.contract import example_intake, register_example_service, story
    from tests.support.ledger import scalar

    setup = Ledger.from_settings(settings)
    register_example_service(setup)  # a DWP service
    setup.close()
    raw = {name: raw for name, _, raw in story()}["data-accessed.v1.json"]
    with TestClient(create_app(settings)) as api:
        state: Any = api.app.state  # type: ignore[attr-defined]
        state.write_path.intake = example_intake(state.write_path.ledger, settings)
        hmrc = api.post(
            "/v1/events", content=raw, headers=bearer(settings, "service", organisation="HMRC")
        )
        assert_denied(hmrc, 403, "not-authorised")
        assert (
            scalar(
                settings.database_url,
                "SELECT count(*) FROM ledger_events WHERE topic LIKE '%%DataAccess%%'",
            )
            == 0
        )
        # The attempt is kept, as every refusal is, and names who made it.
        caller = scalar(settings.database_url, "SELECT caller FROM ledger_refusals")
        assert caller.startswith("HMRC/")
        dwp = api.post(
            "/v1/events", content=raw, headers=bearer(settings, "service", organisation="DWP")
        )
        assert dwp.status_code == 202
