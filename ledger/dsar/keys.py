"""The DSAR service key: what signs the events officers cause through the API.

An organisation that opts in (``ledger dsar enable ORG``) has a service of its own for
its subject access request team, ``urn:ledger:service:<org>:dsar``, registered for
every type of the catalogue whose name starts ``uk.gov.ledger.sar-`` or
``uk.gov.ledger.query-``. Its key is one the ledger holds (:mod:`ledger.held_keys`:
derived from the ledger secret, rotated by the administrators, found in the key
registry); its first key is valid a year back, so officers may record when things
happened (a request that came by post last week, a case open when the organisation
adopted the ledger).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger import held_keys
from ledger.administration import Administration
from ledger.catalogue import PREFIX
from ledger.held_keys import HeldKey, HeldService, HeldSigners, KeyLookup, NotEnabled
from ledger.held_keys import SourceTaken as DsarSourceTaken
from ledger.keyring import Keyring

DSAR_TYPE_PREFIXES = (PREFIX + "sar-", PREFIX + "query-")
SERVICE_NAME = "Subject access request team"
# How far back the first DSAR key is valid: how far back officers may record a case's facts.
BACKDATING = timedelta(days=366)

DSAR = HeldService(
    "dsar", "DSAR", SERVICE_NAME, lambda name: name.startswith(DSAR_TYPE_PREFIXES), BACKDATING
)

DsarKey = HeldKey
DsarNotEnabled = NotEnabled
__all__ = ["DsarKey", "DsarNotEnabled", "DsarSigners", "DsarSourceTaken", "dsar_source"]


def dsar_source(organisation: str) -> str:
    """The source of ``organisation``'s DSAR service: ``urn:ledger:service:dwp:dsar``."""
    return DSAR.source(organisation)


def dsar_event_types() -> list[str]:
    """What a DSAR service may emit: the catalogue's ``sar-`` and ``query-`` types."""
    return DSAR.event_types()


class DsarSigners(HeldSigners):
    """The emitters of DSAR teams, each signing with its organisation's current key."""

    def __init__(self, ledger: KeyLookup, keyring: Keyring) -> None:
        super().__init__(DSAR, ledger, keyring)


def enable(
    administration: Administration, keyring: Keyring, organisation: str
) -> held_keys.Enabled:
    """Register ``organisation``'s DSAR service and its first key (idempotent)."""
    return held_keys.enable(DSAR, administration, keyring, organisation)


def rotate(
    administration: Administration,
    keyring: Keyring,
    organisation: str,
    at: datetime | None = None,
) -> HeldKey:
    """Register the next generation of ``organisation``'s DSAR key from ``at`` (now)."""
    return held_keys.rotate(DSAR, administration, keyring, organisation, at)
