"""Signing in with GOV.UK One Login: the authorisation request carries PKCE (S256), a
fresh state and nonce and the vector of trust; a callback is refused, before anything is
sent to the provider, unless it answers the sign-in this session started."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ledger.settings import Settings, SettingsError
from ledger.subjects import SubjectId
from portal.one_login import (
    OneLogin,
    Pending,
    SignInRefused,
    authorisation_url,
    client_authentication,
    code_from_callback,
    subject_of,
)

SETTINGS = Settings(
    env="production",
    oidc_issuer="https://oidc.integration.account.gov.uk/",
    oidc_client_id="portal-client",
    oidc_client_secret="not-a-real-secret",
    oidc_redirect_url="https://portal.example/sign-in/callback",
)
AUTHORIZE = "https://oidc.integration.account.gov.uk/authorize"
SUB = "urn:fdc:gov.uk:2022:56P4CMsGh_02YOlWpd8PAOI-2sVlB2nsNU7mcLZYhYw="[:50]


def test_the_authorisation_request_follows_one_logins_conventions_with_pkce() -> None:
    url, pending = authorisation_url(SETTINGS, AUTHORIZE)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}

    assert url.startswith(AUTHORIZE + "?")
    assert query["response_type"] == "code" and query["scope"] == "openid"
    assert query["client_id"] == "portal-client"
    assert query["redirect_uri"] == "https://portal.example/sign-in/callback"
    assert query["state"] == pending.state and query["nonce"] == pending.nonce
    assert json.loads(query["vtr"]) == ["Cl.Cm"]
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pending.verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert pending.verifier not in url
    assert 43 <= len(pending.verifier) <= 128  # RFC 7636


def test_each_sign_in_has_its_own_state_nonce_and_verifier() -> None:
    first, second = (
        authorisation_url(SETTINGS, AUTHORIZE)[1],
        authorisation_url(SETTINGS, AUTHORIZE)[1],
    )

    assert first.state != second.state and first.nonce != second.nonce
    assert first.verifier != second.verifier
    assert len({first.state, first.nonce, first.verifier}) == 3


def test_a_callback_answering_this_sessions_sign_in_gives_its_code() -> None:
    pending = Pending(state="s" * 43, nonce="n" * 43, verifier="v" * 64)

    assert code_from_callback(pending, {"state": "s" * 43, "code": "abc"}) == "abc"


@pytest.mark.parametrize(
    ("pending", "params"),
    [
        (None, {"state": "s" * 43, "code": "abc"}),  # no sign-in started here
        (Pending("s" * 43, "n", "v"), {"state": "t" * 43, "code": "abc"}),  # another's state
        (Pending("s" * 43, "n", "v"), {"code": "abc"}),  # no state
        (Pending("s" * 43, "n", "v"), {"state": "s" * 43, "error": "access_denied"}),
        (Pending("s" * 43, "n", "v"), {"state": "s" * 43}),  # no code
    ],
)
def test_a_callback_that_does_not_answer_this_sessions_sign_in_is_refused(
    pending: Pending | None, params: dict[str, str]
) -> None:
    with pytest.raises(SignInRefused):
        code_from_callback(pending, params)


def test_the_id_tokens_sub_is_the_citizens_one_login_identifier() -> None:
    pending = Pending("s", "n" * 43, "v")

    assert subject_of({"sub": SUB, "nonce": "n" * 43}, pending) == SubjectId.from_text(
        f"one-login:{SUB}"
    )
    with pytest.raises(SignInRefused):
        subject_of({"sub": SUB, "nonce": "m" * 43}, pending)  # replayed from another sign-in
    with pytest.raises(SignInRefused):
        subject_of({"sub": "someone", "nonce": "n" * 43}, pending)


def test_production_sign_in_needs_its_settings() -> None:
    with pytest.raises(SettingsError, match="LEDGER_OIDC_ISSUER"):
        OneLogin(Settings(env="production"))
    with pytest.raises(SettingsError, match="LEDGER_OIDC_PRIVATE_KEY"):
        OneLogin(
            Settings(
                env="production",
                oidc_issuer="https://x/",
                oidc_client_id="c",
                oidc_redirect_url="https://p/sign-in/callback",
            )
        )


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_the_portal_proves_itself_with_a_short_lived_jwt_signed_by_its_key(
    tmp_path: Path, algorithm: str
) -> None:
    key: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm == "ES256"
        else rsa.generate_private_key(65537, 2048)
    )
    pem = tmp_path / "portal.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings = dataclasses.replace(SETTINGS, oidc_private_key=str(pem), oidc_client_secret="")
    endpoint = "https://oidc.integration.account.gov.uk/token"

    form = client_authentication(settings, endpoint)

    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    claims = jwt.decode(
        form["client_assertion"], key.public_key(), algorithms=[algorithm], audience=endpoint
    )
    assert claims["iss"] == claims["sub"] == "portal-client"
    assert claims["exp"] - claims["iat"] <= 300 and claims["jti"]
    assert "client_secret" not in form
