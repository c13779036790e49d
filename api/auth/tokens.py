"""JWT bearer tokens: the development issuer, and verification of any issuer's tokens.

Development: the ledger signs its own tokens (EdDSA, Ed25519) with a key derived from the
ledger secret, so ``ledger tokens issue`` and the API agree without configuration.
Production (``LEDGER_ENV=production``): tokens come from the configured OIDC provider
(issuer, audience, JWKS URL, as GOV.UK One Login would be); the development key is not
trusted there, whatever a token claims.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.keyring import Keyring
from ledger.settings import Settings, SettingsError
from ledger.subjects import ONE_LOGIN_PREFIX, InvalidIdentifier, SubjectId

ROLES = ("citizen", "dsar-officer", "service", "auditor", "admin")
DEV_ISSUER = "urn:ledger:dev-issuer"
PRODUCTION_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
LEEWAY_SECONDS = 30  # clock skew between the issuer and us
CACHE_SIZE = 10_000  # verified tokens remembered


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for.

    ``subject_keys`` are the pseudonyms of a citizen's linked identifiers (from the
    ``ledger_subjects`` claim, the ``subject_keys`` claim, or a One Login ``sub``);
    ``organisation`` is the public body of a service, DSAR officer or admin.
    """

    subject: str
    roles: frozenset[str]
    organisation: str | None = None
    subject_keys: frozenset[str] = frozenset()


class Claims(BaseModel):
    """The claims a principal is read from, each of its JSON type (strict: a number is
    not a string, a string not a list). The registered claims' values are checked by
    PyJWT; here only that they are what RFC 7519 says they are."""

    model_config = ConfigDict(strict=True, frozen=True)

    sub: str
    exp: int | float
    iat: int | float
    nbf: int | float | None = None
    roles: list[str] = []
    org: str | None = None
    ledger_subjects: list[str] | None = None
    subject_keys: list[str] | None = None


class TokenRefused(Exception):
    """A token is missing or not acceptable; ``code`` is stable, the text reveals nothing."""

    def __init__(self, code: str, title: str) -> None:
        super().__init__(title)
        self.code = code
        self.title = title


def _dev_key(keyring: Keyring) -> Ed25519PrivateKey:
    # A keyed derivation under the ledger secret with its own label, so the token key is
    # independent of the pseudonym, sealing and log-signing keys.
    seed = bytes.fromhex(keyring.pseudonymiser.opaque("jwt-dev-issuer", "ed25519-seed-v1"))
    return Ed25519PrivateKey.from_private_bytes(seed)


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes_raw()
    return "dev-" + hashlib.sha256(raw).hexdigest()[:16]


class DevIssuer:
    """Signs development tokens for every role."""

    def __init__(self, keyring: Keyring, settings: Settings) -> None:
        if settings.env == "production":
            raise SettingsError("the development token issuer is disabled in production")
        self._key = _dev_key(keyring)
        self.public_key = self._key.public_key()
        self.kid = key_id(self.public_key)
        self.issuer = settings.auth_issuer or DEV_ISSUER
        self.audience = settings.auth_audience
        self.lifetime = settings.token_lifetime_seconds

    def issue(
        self,
        role: str,
        *,
        subjects: Sequence[str] = (),
        organisation: str | None = None,
        name: str | None = None,
        lifetime: int | None = None,
        audience: str | None = None,
        now: float | None = None,
    ) -> str:
        """A signed token for one role; citizens name their linked identifiers, which
        the token carries in canonical form (:class:`InvalidIdentifier` if one is not)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        # Refuse a typo now, not at every request.
        linked = [str(SubjectId.from_text(subject)) for subject in subjects]
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience or self.audience,
            "sub": name or f"{role}:{uuid.uuid4().hex[:12]}",
            "iat": issued,
            "nbf": issued,
            "exp": issued + (lifetime if lifetime is not None else self.lifetime),
            "jti": uuid.uuid4().hex,
            "roles": [role],
        }
        if organisation:
            claims["org"] = organisation
        if linked:
            claims["ledger_subjects"] = linked
        return self.sign(claims)

    def sign(self, claims: dict[str, Any]) -> str:
        """A token carrying exactly ``claims``, signed with the development key."""
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})


class TokenVerifier:
    """Checks a bearer token's signature, issuer, audience and times; yields a Principal."""

    def __init__(self, keyring: Keyring, settings: Settings) -> None:
        self._pseudonymiser = keyring.pseudonymiser
        self._verified: dict[str, tuple[Principal, float]] = {}
        self.audience = settings.auth_audience
        self._jwks: jwt.PyJWKClient | None = None
        self._dev: Ed25519PublicKey | None = None
        if settings.env == "production":
            if not settings.auth_issuer or not settings.auth_jwks_url:
                raise SettingsError(
                    "LEDGER_AUTH_ISSUER and LEDGER_AUTH_JWKS_URL must be set in production"
                )
            self.issuer = settings.auth_issuer
            self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True, lifespan=300)
            self.algorithms = PRODUCTION_ALGORITHMS
        else:
            self.issuer = settings.auth_issuer or DEV_ISSUER
            self._dev = _dev_key(keyring).public_key()
            self.algorithms = ["EdDSA"]

    @property
    def fetches_keys(self) -> bool:
        """Whether verifying may fetch the issuer's keys (blocking I/O)."""
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; :class:`TokenRefused` otherwise.

        A token verified once is remembered until it expires (services send the same
        token with every request; verifying costs more than the decision it guards)."""
        now = time.time()
        known = self._verified.get(token)
        if known is not None and known[1] > now:
            return known[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= CACHE_SIZE:
            self._verified.clear()  # crude, and bounded: a full cache is simply refilled
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            key: Any = (
                self._dev if self._jwks is None else self._jwks.get_signing_key_from_jwt(token).key
            )
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("token-expired", "The bearer token has expired") from None
        except (jwt.PyJWTError, ValueError):
            raise TokenRefused("token-invalid", "The bearer token is not valid") from None
        try:
            valid = Claims.model_validate(claims)
        except ValidationError:
            raise TokenRefused("token-invalid", "The bearer token is not valid") from None
        return self._principal(valid), float(valid.exp)

    def _principal(self, claims: Claims) -> Principal:
        keys: set[str] = set()
        linked = list(claims.ledger_subjects or [])
        if claims.sub.startswith(ONE_LOGIN_PREFIX):
            linked.append(f"one-login:{claims.sub}")
        for text in linked:
            try:
                keys.add(self._pseudonymiser.subject_key(SubjectId.from_text(text)))
            except InvalidIdentifier:
                raise TokenRefused("token-invalid", "The bearer token is not valid") from None
        keys.update(claims.subject_keys or [])
        return Principal(
            subject=claims.sub,
            roles=frozenset(r for r in claims.roles if r in ROLES),
            organisation=claims.org or None,
            subject_keys=frozenset(keys),
        )
