"""The DSAR service key: an organisation opts in, the ledger holds its DSAR team's key
(derived from the secret, registered by the administrators), officers' events signed
with it are recorded, and a rotation is noticed by every process, on real servers."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ledger_emitter import Emitter, canonical

from cli.main import main
from ledger import application
from ledger.administration import Administration, UnknownOrganisation
from ledger.application import Ledger
from ledger.catalogue import CATALOGUE, DATA_ACCESSED, SAR_RECEIVED
from ledger.dsar.keys import (
    DsarNotEnabled,
    DsarSigners,
    dsar_event_types,
    dsar_source,
    enable,
    rotate,
)
from ledger.incoming import Direct, Incoming, Outcome, Status
from ledger.keyring import Keyring
from ledger.refusals import Reason
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from tests.support.ledger import access_data, administration

pytestmark = pytest.mark.integration

_REFERENCES = itertools.count(1)


@pytest.fixture
def admin(ledger: Ledger) -> Iterator[Administration]:
    """The administrators, with DWP and HMRC registered; only DWP will opt in."""
    admin = administration(ledger)
    admin.register_organisation("DWP", "the Department for Work and Pensions")
    admin.register_organisation("HMRC", "HM Revenue and Customs")
    yield admin


@pytest.fixture
def keyring(ledger: Ledger) -> Keyring:
    assert ledger.trust is not None
    return ledger.trust.keyring


def sar_received(emitter: Emitter, time: datetime | None = None) -> bytes:
    """A new case received, as DWP's DSAR team would record it."""
    data = {
        "case": {"organisation": "DWP", "reference": f"SAR-TEST-{next(_REFERENCES):04d}"},
        "subjects": [{"scheme": "nino", "value": "AB123456C"}],
        "channel": "online",
        "requester": "subject",
        "identity_required": False,
    }
    return canonical(emitter.build(SAR_RECEIVED, data, time=time))


def submit(admin: Administration, raw: bytes) -> Outcome:
    (outcome,) = admin.write_path.submit([Incoming(raw, Direct())])
    return outcome


def refused_for(outcome: Outcome) -> Reason | None:
    return None if outcome.refusal is None else outcome.refusal.reason


def test_an_enabled_organisations_dsar_team_signs_what_the_ledger_records(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    enabled = enable(admin, keyring, "DWP")
    signers = DsarSigners(ledger, keyring)
    emitter = signers.emitter("DWP")

    outcome = submit(admin, sar_received(emitter))

    assert outcome.status is Status.RECORDED, outcome
    assert enabled.recorded and enabled.missing_types == ()
    assert emitter.source == dsar_source("DWP") == "urn:ledger:service:dwp:dsar"
    assert (enabled.key.generation, enabled.key.key_id) == (1, emitter.key.key_id)
    registered = ledger.key(emitter.key.key_id)
    assert registered is not None
    assert registered.organisation == "DWP"
    assert registered.event_types == frozenset(dsar_event_types())
    assert set(dsar_event_types()) >= {SAR_RECEIVED, *(t for t in CATALOGUE if ".query-" in t)}


def test_a_dsar_key_may_not_sign_what_is_not_a_dsar_teams_to_say(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    enable(admin, keyring, "DWP")
    emitter = DsarSigners(ledger, keyring).emitter("DWP")

    outcome = submit(admin, canonical(emitter.build(DATA_ACCESSED, access_data())))

    assert outcome.status is Status.REFUSED
    assert refused_for(outcome) is Reason.NOT_AUTHORISED


def test_after_a_rotation_the_new_key_signs_and_the_old_only_what_came_before(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    enable(admin, keyring, "DWP")
    signers = DsarSigners(ledger, keyring)
    old = signers.emitter("DWP")
    signed_before = sar_received(old, time=datetime.now(UTC) - timedelta(seconds=30))

    rotated = rotate(admin, keyring, "DWP")
    new = signers.emitter("DWP")

    assert rotated.generation == 2 and new.key.key_id == rotated.key_id != old.key.key_id
    assert submit(admin, sar_received(new)).status is Status.RECORDED
    assert refused_for(submit(admin, sar_received(old))) is Reason.RETIRED_KEY
    assert submit(admin, signed_before).status is Status.RECORDED
    assert signers.current("DWP").generation == 2


def test_another_process_notices_a_rotation_by_itself_or_at_once_after_a_refusal(
    admin: Administration,
    ledger: Ledger,
    keyring: Keyring,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enable(admin, keyring, "DWP")
    elsewhere = Ledger.from_settings(settings)
    try:
        signers = DsarSigners(elsewhere, keyring)
        assert signers.current("DWP").generation == 1
        monkeypatch.setattr(application, "REGISTRY_MAX_AGE", 3600.0)  # it has not looked yet

        rotate(admin, keyring, "DWP")
        stale = signers.emitter("DWP")
        refused = submit(admin, sar_received(stale))
        found = signers.refresh("DWP")

        assert refused_for(refused) is Reason.RETIRED_KEY
        assert found.generation == 2
        assert submit(admin, sar_received(signers.emitter("DWP"))).status is Status.RECORDED

        monkeypatch.setattr(application, "REGISTRY_MAX_AGE", 0.2)
        rotate(admin, keyring, "DWP")
        time.sleep(0.3)  # past REGISTRY_MAX_AGE: the registry's next look reads the log
        assert signers.emitter("DWP").key.key_id == signers.current("DWP").key_id
        assert signers.current("DWP").generation == 3
    finally:
        elsewhere.close()


def test_enabling_twice_records_nothing_more(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    first = enable(admin, keyring, "DWP")
    head = ledger.recorder.max_notification_id()
    rotate(admin, keyring, "DWP")
    head_after_rotation = ledger.recorder.max_notification_id()

    again = enable(admin, keyring, "DWP")

    assert first.recorded and not again.recorded
    assert head is not None and head_after_rotation == head + 1
    assert ledger.recorder.max_notification_id() == head_after_rotation
    assert again.key.generation == 2


def test_a_service_registered_with_fewer_types_is_kept_and_its_missing_types_named(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    # As if enabled before the catalogue gained the other DSAR types: no event amends
    # a service's types, so enable says which it lacks instead of failing.
    admin.register_service(dsar_source("DWP"), "DWP", "Subject access request team", [SAR_RECEIVED])

    enabled = enable(admin, keyring, "DWP")
    again = enable(admin, keyring, "DWP")

    assert enabled.recorded and not again.recorded
    assert set(enabled.missing_types) == set(dsar_event_types()) - {SAR_RECEIVED}
    assert again.missing_types == enabled.missing_types
    emitter = DsarSigners(ledger, keyring).emitter("DWP")
    assert submit(admin, sar_received(emitter)).status is Status.RECORDED


def test_an_organisation_that_did_not_opt_in_has_no_dsar_signer(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    enable(admin, keyring, "DWP")
    signers = DsarSigners(ledger, keyring)

    with pytest.raises(DsarNotEnabled) as not_enabled:
        signers.emitter("HMRC")

    assert not_enabled.value.organisation == "HMRC"
    assert isinstance(not_enabled.value, LookupError)
    assert (signers.enabled("DWP"), signers.enabled("HMRC"), signers.enabled("NOBODY")) == (
        True,
        False,
        False,
    )
    with pytest.raises(DsarNotEnabled):
        rotate(admin, keyring, "HMRC")
    with pytest.raises(UnknownOrganisation):
        enable(admin, keyring, "NOBODY")


def test_a_revoked_dsar_key_disables_the_team_until_rotated(
    admin: Administration, ledger: Ledger, keyring: Keyring
) -> None:
    enabled = enable(admin, keyring, "DWP")
    admin.revoke_key(dsar_source("DWP"), enabled.key.key_id, "the key may have leaked")
    signers = DsarSigners(ledger, keyring)

    assert not signers.enabled("DWP")
    rotated = rotate(admin, keyring, "DWP")

    assert signers.current("DWP") == rotated and rotated.generation == 2
    assert submit(admin, sar_received(signers.emitter("DWP"))).status is Status.RECORDED


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_the_commands_enable_rotate_and_say_who_holds_a_key_and_the_audit_passes(
    cli_env: Settings, ledger: Ledger, admin: Administration, capsys: pytest.CaptureFixture[str]
) -> None:
    code, enabled, _ = run(capsys, "dsar", "enable", "DWP")
    again, enabled_again, _ = run(capsys, "dsar", "enable", "DWP")
    rotated_code, rotated, _ = run(capsys, "dsar", "rotate", "DWP")
    assert submit(admin, sar_received(DsarSigners(ledger, admin_keyring(ledger)).emitter("DWP")))
    listed_code, listed, _ = run(capsys, "dsar", "status")
    one_code, one, _ = run(capsys, "dsar", "status", "DWP")
    none_code, _, none_err = run(capsys, "dsar", "status", "HMRC")
    seal(cli_env)
    audit_code = main(["verify", "--audit"])
    audit_out, audit_err = capsys.readouterr()

    assert (code, enabled["generation"], enabled["recorded"]) == (0, 1, True)
    assert (again, enabled_again["recorded"], enabled_again["key_id"]) == (
        0,
        False,
        enabled["key_id"],
    )
    assert (rotated_code, rotated["generation"]) == (0, 2)
    assert rotated["key_id"] != enabled["key_id"]
    assert (listed_code, one_code) == (0, 0)
    assert listed == [one] and one["key_id"] == rotated["key_id"]
    assert one["source"] == "urn:ledger:service:dwp:dsar"
    assert none_code == 1 and "HMRC holds no DSAR service key" in none_err
    assert audit_code == 0, audit_out + audit_err


def seal(settings: Settings) -> None:
    sealer = Sealer(
        settings.database_url, signer_from_settings(settings), discloser_from_settings(settings)
    )
    sealer.seal()
    sealer.close()


def admin_keyring(ledger: Ledger) -> Keyring:
    assert ledger.trust is not None
    return ledger.trust.keyring


def test_the_commands_refuse_what_they_cannot_do_with_exit_codes(
    cli_env: Settings, admin: Administration, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "dsar", "enable", "dwp")[0] == 2  # not an organisation code
    code, _, err = run(capsys, "dsar", "enable", "NOBODY")
    assert code == 2 and "not registered" in err
    code, _, err = run(capsys, "dsar", "rotate", "HMRC")
    assert code == 2 and "enable" in err
    with pytest.raises(SystemExit) as usage:
        main(["dsar", "rotate"])
    assert usage.value.code == 2
