"""The portal in production, in process (no database, no provider): HSTS and a Secure,
host-only session cookie; no development sign-in; signing in starts at One Login with
PKCE, and a callback carrying another state is refused without reaching the provider."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from api.problems import http_problem_handler, internal_error_handler
from ledger.keyring import Keyring
from ledger.settings import Settings
from portal.app import install
from portal.one_login import OneLogin
from portal.session import SessionSealer

SETTINGS = Settings(
    env="production",
    secret="0f" * 32,
    oidc_issuer="https://oidc.integration.account.gov.uk/",
    oidc_client_id="portal-client",
    oidc_client_secret="not-a-real-secret",
    oidc_redirect_url="https://portal.example/sign-in/callback",
)
AUTHORIZE = "https://oidc.integration.account.gov.uk/authorize"


@pytest.fixture
def portal() -> Iterator[TestClient]:
    app = FastAPI()
    app.add_exception_handler(HTTPException, http_problem_handler)
    app.add_exception_handler(Exception, internal_error_handler)
    install(app, SETTINGS)
    app.state.settings = SETTINGS
    app.state.keyring = Keyring.from_settings(SETTINGS)
    one_login = OneLogin(SETTINGS)
    one_login._metadata = {  # as the discovery document would say; nothing is fetched
        "issuer": SETTINGS.oidc_issuer,
        "authorization_endpoint": AUTHORIZE,
        "token_endpoint": "https://unreachable.invalid/token",
        "jwks_uri": "https://unreachable.invalid/jwks",
    }
    app.state.one_login = one_login
    with TestClient(app, base_url="https://portal.example", raise_server_exceptions=False) as c:
        yield c


def test_production_pages_carry_hsts_and_a_secure_host_only_cookie(portal: TestClient) -> None:
    response = portal.get("/")

    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-portal-session=")
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert (
        "form-action 'self' https://oidc.integration.account.gov.uk"
        in (response.headers["content-security-policy"])
    )


def test_there_is_no_development_sign_in_in_production(portal: TestClient) -> None:
    response = portal.post("/sign-in", data={"citizen": "Alex"})

    assert response.status_code == 404
    assert "Page not found" in response.text and "Alex" not in response.text


def test_signing_in_goes_to_one_login_and_a_stranger_state_is_refused(
    portal: TestClient,
) -> None:
    started = portal.get("/sign-in", follow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}

    assert started.status_code == 303
    assert started.headers["location"].startswith(AUTHORIZE + "?")
    assert query["code_challenge_method"] == "S256" and query["state"]

    refused = portal.get("/sign-in/callback", params={"state": "forged", "code": "stolen"})

    assert refused.status_code == 403
    assert "Sorry, we could not sign you in" in refused.text
    # the pending sign-in is spent: its own state no longer works either
    again = portal.get("/sign-in/callback", params={"state": query["state"], "code": "x"})
    assert again.status_code == 403


def test_a_page_after_the_session_has_ended_says_so(portal: TestClient) -> None:
    keyring = Keyring.from_settings(SETTINGS)
    sealer = SessionSealer(keyring.derive(b"portal-session"), SETTINGS.portal_session_seconds)
    stale = sealer.seal(
        {"subject": "nhs-number:9434765919", "name": "Alex"}, now=time.time() - 1801
    )
    fresh = sealer.seal({"subject": "nhs-number:9434765919", "name": "Alex"}, now=time.time() - 1)

    ended = portal.get("/your-data", headers={"Cookie": f"__Host-portal-session={stale}"})
    anonymous = portal.get("/your-data", follow_redirects=False)
    signed_out = portal.post(
        "/sign-out", headers={"Cookie": f"__Host-portal-session={fresh}"}, follow_redirects=False
    )

    assert ended.status_code == 401
    assert "Your session has ended" in ended.text and "Sign in again" in ended.text
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/sign-in"
    assert signed_out.status_code == 403  # no form token: refused, still signed in
