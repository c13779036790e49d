"""Bearer tokens: the development issuer, and production issuers known by their JWKS."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from api.auth.tokens import DevIssuer, TokenRefused, TokenVerifier
from ledger.keyring import Keyring
from ledger.settings import Settings, SettingsError
from ledger.subjects import InvalidIdentifier, SubjectId
from tests.support.spellings import full_width

SECRET = "0f" * 32
DEV = Settings(secret=SECRET)
ISSUER = "https://oidc.integration.account.gov.uk/"


@pytest.fixture
def jwks_server(tmp_path: Path) -> Iterator[str]:
    """An OIDC provider's JWKS endpoint, on loopback (what One Login publishes)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def production(tmp_path: Path, jwks_url: str) -> tuple[Settings, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "p1", "use": "sig"}]}))
    settings = Settings(env="production", secret=SECRET, auth_issuer=ISSUER, auth_jwks_url=jwks_url)
    return settings, key


def one_login_token(key: ec.EllipticCurvePrivateKey, **claims: object) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": "urn:ledger:api",
        "sub": "urn:fdc:gov.uk:2022:abcdefghij0123456789",
        "iat": now,
        "exp": now + 300,
        "roles": ["citizen"],
        **claims,
    }
    return jwt.encode(body, key, algorithm="ES256", headers={"kid": "p1"})


def test_a_dev_token_names_the_citizens_linked_subjects_as_pseudonyms() -> None:
    keyring = Keyring.from_settings(DEV)
    token = DevIssuer(keyring, DEV).issue("citizen", subjects=["nhs-number:9434765919"])

    principal = TokenVerifier(keyring, DEV).verify(token)

    expected = keyring.pseudonymiser.subject_key(SubjectId.from_text("nhs-number:9434765919"))
    assert principal.roles == {"citizen"} and principal.subject_keys == {expected}
    assert "9434765919" not in str(principal)


def test_a_dev_token_carries_the_canonical_form_of_any_accepted_spelling() -> None:
    keyring = Keyring.from_settings(DEV)
    token = DevIssuer(keyring, DEV).issue("citizen", subjects=["nino:ab 12 34 56 c"])

    claims = jwt.decode(token, options={"verify_signature": False})
    principal = TokenVerifier(keyring, DEV).verify(token)

    assert claims["ledger_subjects"] == ["nino:AB123456C"]
    canonical = keyring.pseudonymiser.subject_key(SubjectId("nino", "AB123456C"))
    assert principal.subject_keys == {canonical}


@pytest.mark.parametrize("subject", ["nino:AB123456C\n", full_width("nino:AB123456C")])
def test_no_dev_token_links_a_misspelt_identifier(subject: str) -> None:
    with pytest.raises(InvalidIdentifier):
        DevIssuer(Keyring.from_settings(DEV), DEV).issue("citizen", subjects=[subject])


@pytest.mark.parametrize(
    "claims",
    [
        {"ledger_subjects": ["nino:AB123456C\n"]},
        {"ledger_subjects": [full_width("nino:AB123456C")]},
        {"sub": "urn:fdc:gov.uk:2022:abcdefghij0123456789\n"},
    ],
)
def test_a_token_linking_a_misspelt_identifier_is_refused(
    tmp_path: Path, jwks_server: str, claims: dict[str, object]
) -> None:
    # Another issuer's token is not ours to correct: taken apart, it would be a second
    # person with none of the citizen's history.
    settings, key = production(tmp_path, jwks_server)

    with pytest.raises(TokenRefused) as refused:
        TokenVerifier(Keyring.from_settings(settings), settings).verify(
            one_login_token(key, **claims)
        )
    assert refused.value.code == "token-invalid"


def test_production_verifies_tokens_of_the_configured_issuer_by_its_jwks(
    tmp_path: Path, jwks_server: str
) -> None:
    settings, key = production(tmp_path, jwks_server)
    keyring = Keyring.from_settings(settings)

    principal = TokenVerifier(keyring, settings).verify(one_login_token(key))

    one_login = SubjectId.from_text("one-login:urn:fdc:gov.uk:2022:abcdefghij0123456789")
    assert principal.subject_keys == {keyring.pseudonymiser.subject_key(one_login)}


def test_production_refuses_dev_tokens_and_will_not_issue_them(
    tmp_path: Path, jwks_server: str
) -> None:
    settings, _ = production(tmp_path, jwks_server)
    keyring = Keyring.from_settings(settings)
    dev_token = DevIssuer(Keyring.from_settings(DEV), DEV).issue("admin")

    with pytest.raises(TokenRefused) as refused:
        TokenVerifier(keyring, settings).verify(dev_token)
    assert refused.value.code == "token-invalid"
    with pytest.raises(SettingsError):
        DevIssuer(keyring, settings)


def test_production_without_an_issuer_and_jwks_does_not_start() -> None:
    settings = Settings(env="production", secret=SECRET)
    with pytest.raises(SettingsError, match="LEDGER_AUTH_JWKS_URL"):
        TokenVerifier(Keyring.from_settings(settings), settings)


def test_a_token_from_another_issuer_with_the_same_key_is_refused(
    tmp_path: Path, jwks_server: str
) -> None:
    settings, key = production(tmp_path, jwks_server)
    with pytest.raises(TokenRefused):
        TokenVerifier(Keyring.from_settings(settings), settings).verify(
            one_login_token(key, iss="https://evil.example/")
        )


def test_an_unknown_role_cannot_be_issued() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        DevIssuer(Keyring.from_settings(DEV), DEV).issue("superuser")


WRONG_TYPES = {
    "roles a string": {"roles": "citizen"},
    "a role a number": {"roles": [1]},
    "org a number": {"org": 42},
    "org a list": {"org": ["DWP"]},
    "ledger_subjects a string": {"ledger_subjects": "nhs-number:9434765919"},
    "ledger_subjects a number": {"ledger_subjects": 5},
    "subject_keys a number": {"subject_keys": 5},
    "a subject key a number": {"subject_keys": [1]},
    "exp a string": {"exp": "soon"},
    "exp a string of digits": {"exp": "4102444800"},  # 2100-01-01, as a string
    "iat a list": {"iat": [1]},
    "nbf an object": {"nbf": {}},
    "sub a number": {"sub": 42},
}


@pytest.mark.parametrize("claims", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_signed_token_whose_claims_have_the_wrong_types_is_refused(
    claims: dict[str, object],
) -> None:
    keyring = Keyring.from_settings(DEV)
    issuer = DevIssuer(keyring, DEV)
    now = int(time.time())
    good = {"iss": issuer.issuer, "aud": issuer.audience, "sub": "citizen:x", "iat": now}
    token = issuer.sign({**good, "exp": now + 300, "roles": ["citizen"], **claims})

    with pytest.raises(TokenRefused) as refused:
        TokenVerifier(keyring, DEV).verify(token)

    assert refused.value.code == "token-invalid"
