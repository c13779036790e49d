"""Who may call what: FastAPI dependencies that authenticate and check the role.

Every route but ``/healthz`` and the log's public key depends on one of these. A
missing or bad token is 401; a good token outside its scope is 403. Both are problem
details that say only which of the two it was: never whether a citizen, case or
record exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.auth.tokens import ROLES, Principal, TokenRefused, TokenVerifier
from api.problems import Problem

_bearer = HTTPBearer(auto_error=False, description="A JWT from the ledger's token issuer")


def forbidden() -> Problem:
    return Problem(403, "forbidden", "This token does not allow that")


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a valid bearer token; 401 otherwise."""
    if credentials is None:
        raise Problem(
            401,
            "token-missing",
            "A bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.verifier
    try:
        if verifier.fetches_keys:  # may fetch the issuer's JWKS: keep the loop free
            principal = await run_in_threadpool(verifier.verify, credentials.credentials)
        else:
            principal = verifier.verify(credentials.credentials)
    except TokenRefused as refused:
        raise Problem(
            401,
            refused.code,
            refused.title,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    return principal


def allow(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, if they hold one of ``roles``; 403 otherwise."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, unknown

    async def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if not principal.roles & set(roles):
            raise forbidden()
        return principal

    return check


def require_own_subject(principal: Principal, subject_key: str) -> None:
    """A citizen reads only the subjects linked to their account."""
    if subject_key not in principal.subject_keys:
        raise forbidden()


def require_organisation(principal: Principal, organisation: str) -> None:
    """A service (or officer) acts only for its own organisation."""
    if principal.organisation != organisation:
        raise forbidden()


# Each gate is one function, so a route and its read-your-writes wait share one check
# per request (FastAPI caches a dependency by the function).
citizen = allow("citizen")
service = allow("service")
officer = allow("dsar-officer")
overseer = allow("auditor", "admin")
# Signed tree heads and proofs hold no personal data; every role may verify the log.
any_role = allow(*ROLES)
registrar = allow("admin", "auditor", "service", "dsar-officer")

Citizen = Annotated[Principal, Depends(citizen)]
Service = Annotated[Principal, Depends(service)]
Officer = Annotated[Principal, Depends(officer)]
Overseer = Annotated[Principal, Depends(overseer)]
Verifier = Annotated[Principal, Depends(any_role)]
Registrar = Annotated[Principal, Depends(registrar)]
