"""A service cannot take over another service's key by registering its public key: the
other service's events go on being recorded as its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_emitter import SigningKey, b64url, canonical

from ledger.application import Ledger
from ledger.catalogue import KEY_REGISTERED, KEY_ROTATED
from ledger.catalogue.examples import STORY_START
from ledger.incoming import Direct, Incoming, Status
from ledger.refusals import Reason
from ledger.settings import Settings
from ledger.writing import WritePath
from tests.support.contract import EXAMPLE_NOW, example_intake, register_example_service
from tests.support.garbage import valid_access
from tests.support.hostile import KEY
from tests.support.ledger import administration

pytestmark = pytest.mark.integration

HMRC_ADMIN = "urn:ledger:service:hmrc:key-admin"


def hmrc_admin(ledger: Ledger) -> SigningKey:
    """HMRC's key administration service, allowed to register and rotate its keys."""
    admin = administration(ledger)
    admin.register_organisation("HMRC", "HM Revenue and Customs")
    admin.register_service(HMRC_ADMIN, "HMRC", "Key admin", [KEY_REGISTERED, KEY_ROTATED])
    key = SigningKey.generate()
    admin.register_key(HMRC_ADMIN, key.public_key, STORY_START - timedelta(days=1))
    return key


def claiming(admin: SigningKey, kind: str, **data: str) -> bytes:
    event = {
        "specversion": "1.0",
        "id": f"claim-{kind}",
        "source": HMRC_ADMIN,
        "type": kind,
        "time": (EXAMPLE_NOW - timedelta(minutes=1)).isoformat(),
        "data": {"service": HMRC_ADMIN, "public_key": b64url(KEY.public_key), **data},
    }
    return canonical(admin.sign(event))


@pytest.mark.parametrize("kind", [KEY_REGISTERED, KEY_ROTATED])
def test_another_services_public_key_is_refused_and_its_events_still_recorded(
    settings: Settings, ledger: Ledger, kind: str
) -> None:
    register_example_service(ledger)  # DWP's service, with the examples' key
    admin = hmrc_admin(ledger)
    write = WritePath(ledger, example_intake(ledger, settings))
    extra = {"old_key_id": admin.key_id} if kind == KEY_ROTATED else {}

    (claim,) = write.submit([Incoming(claiming(admin, kind, **extra), Direct())])
    (access,) = write.submit([Incoming(valid_access(), Direct())])

    assert claim.refusal is not None and claim.refusal.reason == Reason.INVARIANT_VIOLATED
    assert claim.refusal.pointer == "/data/public_key"
    assert access.status is Status.RECORDED
