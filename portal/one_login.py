"""Signing in with GOV.UK One Login (OpenID Connect, production).

The authorisation code flow as One Login documents it: the portal sends the citizen to
the provider's ``authorization_endpoint`` with ``response_type=code``, ``scope=openid``,
its ``client_id``, ``redirect_uri``, a fresh ``state`` and ``nonce``, the vector of trust
(``vtr``, e.g. ``["Cl.Cm"]``) and a PKCE challenge (S256); the provider sends them back
with a ``code`` and the ``state``. A callback whose state is not the one this session
started with is refused before anything is sent anywhere. The code is exchanged at the
``token_endpoint`` (with the PKCE verifier, the client authenticated by a JWT signed
with its private key, One Login's ``private_key_jwt``, or a client secret), and the ID
token is checked: signature against the provider's published keys, issuer, audience,
expiry and nonce. Its ``sub`` (``urn:fdc:gov.uk:2022:...``) is the citizen's One Login
identifier, the ``one-login`` subject linked to their account.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.errors import InvalidKeyTypeError
from joserfc.jwk import ECKey, RSAKey
from starlette.concurrency import run_in_threadpool

from ledger.settings import Settings, SettingsError
from ledger.subjects import InvalidIdentifier, SubjectId

ID_TOKEN_ALGORITHMS = ["ES256", "RS256"]
TIMEOUT_SECONDS = 10.0
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 300  # One Login refuses a client assertion that lives longer


@dataclass(frozen=True)
class Pending:
    """A sign-in started in this session and not finished: kept in the session."""

    state: str
    nonce: str
    verifier: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> Pending | None:
        if not isinstance(value, dict) or set(value) != {"state", "nonce", "verifier"}:
            return None
        return cls(**value)


class SignInRefused(Exception):
    """The provider's answer cannot sign anyone in (``reason`` says why, for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def authorisation_url(settings: Settings, authorization_endpoint: str) -> tuple[str, Pending]:
    """Where to send the citizen to sign in, and what to remember until they return."""
    pending = Pending(
        state=generate_token(43), nonce=generate_token(43), verifier=generate_token(64)
    )
    query = {
        "response_type": "code",
        "scope": "openid",
        "client_id": settings.oidc_client_id,
        "redirect_uri": settings.oidc_redirect_url,
        "state": pending.state,
        "nonce": pending.nonce,
        "vtr": json.dumps([settings.oidc_vtr]),
        "ui_locales": "en",
        "code_challenge": create_s256_code_challenge(pending.verifier),
        "code_challenge_method": "S256",
    }
    return f"{authorization_endpoint}?{urlencode(query)}", pending


def code_from_callback(pending: Pending | None, params: dict[str, str]) -> str:
    """The authorisation code of a callback that answers the sign-in this session began;
    refused (before any request to the provider) if it does not."""
    if pending is None:
        raise SignInRefused("no sign-in was started in this session")
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), pending.state.encode()):
        raise SignInRefused("the state does not match the one this session sent")
    if "error" in params:
        raise SignInRefused(f"the provider answered {params['error']}")
    code = params.get("code")
    if not code:
        raise SignInRefused("the callback has no code")
    return code


def client_authentication(settings: Settings, token_endpoint: str) -> dict[str, str]:
    """How the portal proves it is the client at the token endpoint: a JWT signed with its
    private key (``private_key_jwt``: iss and sub the client id, aud the endpoint, a
    fresh jti, five minutes to live), or else its client secret."""
    if not settings.oidc_private_key:
        return {
            "client_id": settings.oidc_client_id,
            "client_secret": settings.oidc_client_secret,
        }
    pem = Path(settings.oidc_private_key).read_bytes()
    key: ECKey | RSAKey
    try:
        key, alg = ECKey.import_key(pem), "ES256"
    except InvalidKeyTypeError:
        key, alg = RSAKey.import_key(pem), "RS256"
    assertion = private_key_jwt_sign(
        key, settings.oidc_client_id, token_endpoint, alg=alg, expires_in=ASSERTION_SECONDS
    )
    return {"client_assertion_type": JWT_BEARER, "client_assertion": str(assertion)}


def subject_of(claims: dict[str, Any], pending: Pending) -> SubjectId:
    """The citizen's One Login identifier, from ID token claims already verified."""
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(
        nonce.encode(), pending.nonce.encode()
    ):
        raise SignInRefused("the ID token's nonce is not this session's")
    try:
        return SubjectId.from_text(f"one-login:{claims.get('sub', '')}")
    except InvalidIdentifier:
        raise SignInRefused("the ID token's sub is not a One Login identifier") from None


class OneLogin:
    """The portal's client of the OIDC provider the settings name."""

    def __init__(self, settings: Settings) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_url):
            raise SettingsError(
                "the portal signs citizens in with OpenID Connect in production: set "
                "LEDGER_OIDC_ISSUER, LEDGER_OIDC_CLIENT_ID and LEDGER_OIDC_REDIRECT_URL"
            )
        if not (settings.oidc_private_key or settings.oidc_client_secret):
            raise SettingsError("set LEDGER_OIDC_PRIVATE_KEY (or LEDGER_OIDC_CLIENT_SECRET)")
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._keys: jwt.PyJWKClient | None = None

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (read once, then kept)."""
        if self._metadata is None:
            url = self.settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.get(url)
                response.raise_for_status()
                self._metadata = dict(response.json())
        return self._metadata

    async def start(self) -> tuple[str, Pending]:
        return authorisation_url(self.settings, (await self.metadata())["authorization_endpoint"])

    async def finish(
        self, pending: Pending | None, params: dict[str, str]
    ) -> tuple[SubjectId, str]:
        """The citizen's identifier and their ID token (the hint for signing out)."""
        code = code_from_callback(pending, params)
        assert pending is not None
        metadata = await self.metadata()
        endpoint = metadata["token_endpoint"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.oidc_redirect_url,
            "code_verifier": pending.verifier,
            **client_authentication(self.settings, endpoint),
        }
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            response = await client.post(endpoint, data=form)
        if response.status_code != 200:
            raise SignInRefused(f"the token endpoint answered {response.status_code}")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("the token response has no ID token")
        if self._keys is None:
            self._keys = jwt.PyJWKClient(metadata["jwks_uri"])
        try:
            key = await run_in_threadpool(self._keys.get_signing_key_from_jwt, id_token)
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=ID_TOKEN_ALGORITHMS,
                audience=self.settings.oidc_client_id,
                issuer=metadata["issuer"],
                options={"require": ["exp", "iat", "sub", "nonce"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInRefused(f"the ID token is not acceptable: {exc}") from None
        return subject_of(claims, pending), id_token

    async def end_session_url(self, id_token: str | None, after: str) -> str | None:
        """Where to send the citizen to sign out of One Login too (None if it has none)."""
        endpoint = (await self.metadata()).get("end_session_endpoint")
        if not endpoint:
            return None
        query = {"post_logout_redirect_uri": after, "state": generate_token(20)}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(query)}"
