"""Bearer tokens for tests, signed by the ledger's development issuer."""

from __future__ import annotations

from ledger.keyring import Keyring
from ledger.settings import Settings


def token(
    settings: Settings, role: str, *subjects: str, organisation: str | None = None, **kwargs: object
) -> str:
    from api.auth.tokens import DevIssuer

    issuer = DevIssuer(Keyring.from_settings(settings), settings)
    return issuer.issue(role, subjects=subjects, organisation=organisation, **kwargs)  # type: ignore[arg-type]


def bearer(
    settings: Settings, role: str, *subjects: str, organisation: str | None = None, **kwargs: object
) -> dict[str, str]:
    """An ``Authorization`` header for one role (citizens name their identifiers)."""
    return {
        "Authorization": "Bearer "
        + token(settings, role, *subjects, organisation=organisation, **kwargs)
    }
