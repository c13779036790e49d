"""The citizen portal's service key: an organisation that takes its citizens' choices
online opts in, the ledger holds the key of its portal service, and a consent withdrawn
or an objection set with it is recorded through the one write path, for that
organisation's own records only, and audits clean; on real servers."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_emitter import Emitter, canonical

from cli.main import main
from ledger import choices, held_keys
from ledger.administration import Administration
from ledger.application import Ledger
from ledger.catalogue import CONSENT_GIVEN, DATA_ACCESSED
from ledger.choices import PORTAL
from ledger.dsar.keys import DSAR
from ledger.held_keys import HeldSigners, NotEnabled
from ledger.incoming import Status
from ledger.keyring import Keyring
from ledger.refusals import Reason
from ledger.settings import Settings
from ledger.subjects import SubjectId
from tests.integration.test_dsar_keys import admin_keyring, refused_for, run, seal, submit
from tests.support.ledger import access_data, administration

pytestmark = pytest.mark.integration

ALEX = SubjectId.parse("nino", "AB123456C")
PURPOSE = {"code": "updates", "text": "to send you updates about your claim by text message"}


@pytest.fixture
def admin(ledger: Ledger) -> Administration:
    """The administrators, with DWP and HMRC registered; only DWP will opt in."""
    admin = administration(ledger)
    admin.register_organisation("DWP", "the Department for Work and Pensions")
    admin.register_organisation("HMRC", "HM Revenue and Customs")
    return admin


@pytest.fixture
def keyring(ledger: Ledger) -> Keyring:
    return admin_keyring(ledger)


def given(controller: str) -> dict[str, Any]:
    """The consent view's row of a consent Alex gave ``controller``."""
    return {
        "controller": controller,
        "purpose": PURPOSE,
        "state": "withdrawn",  # so that consent_again builds its giving
        "terms": {
            "data_categories": [{"code": "contact-details", "text": "your phone number"}],
            "collection": {"method": "paper", "notice": {"version": "1", "sha256": "cd" * 32}},
        },
    }


def signed(emitter: Emitter, event: tuple[str, dict[str, Any]]) -> bytes:
    return canonical(emitter.build(*event))


def test_a_citizens_choices_signed_by_the_portal_key_are_recorded(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    enabled = held_keys.enable(PORTAL, admin, keyring, "DWP")
    emitter = HeldSigners(PORTAL, ledger, keyring).emitter("DWP")
    row = {**given("DWP"), "state": "given"}

    outcomes = [
        submit(admin, signed(emitter, choices.consent_again(ALEX, given("DWP")))),
        submit(admin, signed(emitter, choices.withdrawal(ALEX, row))),
        submit(admin, signed(emitter, choices.objection(ALEX, "DWP", PURPOSE))),
        submit(admin, signed(emitter, choices.lifting(ALEX, {**row, "state": "in-force"}))),
    ]

    assert [o.status for o in outcomes] == [Status.RECORDED] * 4, outcomes
    assert emitter.source == "urn:ledger:service:dwp:portal" == enabled.key.source
    registered = ledger.key(emitter.key.key_id)
    assert registered is not None and registered.event_types == frozenset(PORTAL.event_types())


def test_the_portal_key_changes_only_its_own_organisations_records_and_nothing_else(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    held_keys.enable(PORTAL, admin, keyring, "DWP")
    emitter = HeldSigners(PORTAL, ledger, keyring).emitter("DWP")

    hmrcs = submit(admin, signed(emitter, choices.consent_again(ALEX, given("HMRC"))))
    access = submit(admin, canonical(emitter.build(DATA_ACCESSED, access_data())))

    assert refused_for(hmrcs) is Reason.NOT_AUTHORISED
    assert refused_for(access) is Reason.NOT_AUTHORISED
    with pytest.raises(NotEnabled, match="HMRC holds no citizen portal service key"):
        HeldSigners(PORTAL, ledger, keyring).emitter("HMRC")


def test_an_organisations_portal_and_dsar_keys_are_two_keys(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    portal = held_keys.enable(PORTAL, admin, keyring, "DWP").key
    dsar = held_keys.enable(DSAR, admin, keyring, "DWP").key
    dsar_emitter = HeldSigners(DSAR, ledger, keyring).emitter("DWP")

    assert portal.key_id != dsar.key_id and portal.source != dsar.source
    given_by_dsar = submit(admin, signed(dsar_emitter, choices.consent_again(ALEX, given("DWP"))))
    assert refused_for(given_by_dsar) is Reason.NOT_AUTHORISED  # CONSENT_GIVEN is not a DSAR type
    assert CONSENT_GIVEN not in DSAR.event_types()


def test_the_portal_commands_enable_and_list_and_the_audit_passes(
    cli_env: Settings, ledger: Ledger, admin: Administration, capsys: pytest.CaptureFixture[str]
) -> None:
    code, enabled, _ = run(capsys, "portal", "enable", "DWP")
    emitter = HeldSigners(PORTAL, ledger, Keyring.from_settings(cli_env)).emitter("DWP")
    recorded = submit(admin, signed(emitter, choices.consent_again(ALEX, given("DWP"))))
    listed_code, listed, _ = run(capsys, "portal", "status")
    none_code, _, none_err = run(capsys, "portal", "status", "HMRC")
    seal(cli_env)
    audit_code = main(["verify", "--audit"])
    audit_out, audit_err = capsys.readouterr()

    assert (code, enabled["generation"], enabled["recorded"]) == (0, 1, True)
    assert enabled["source"] == "urn:ledger:service:dwp:portal"
    assert recorded.status is Status.RECORDED, recorded
    assert listed_code == 0 and [k["key_id"] for k in listed] == [enabled["key_id"]]
    assert none_code == 1 and "HMRC holds no citizen portal service key" in none_err
    assert audit_code == 0, audit_out + audit_err
