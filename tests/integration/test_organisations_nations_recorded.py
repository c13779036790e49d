"""An organisation's nation, from its registration to the event the projections read;
and a ledger that registered organisations before they had one still loads and audits."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.utils import get_topic

from cli.main import main
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.domain.registry import Organisation
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from tests.support.ledger import administration

pytestmark = pytest.mark.integration


def registrations(settings: Settings) -> dict[str, tuple[int, dict[str, Any]]]:
    """Code -> (position, stored state) of every organisation registered."""
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT notification_id, state FROM ledger_events WHERE topic = %s",
            (get_topic(Organisation.Registered),),
        ).fetchall()
    states = [(position, orjson.loads(bytes(state))) for position, state in rows]
    return {state["code"]: (position, state) for position, state in states}


def registered_events(ledger: Ledger) -> dict[str, Organisation.Registered]:
    topics = [get_topic(Organisation.Registered)]
    notifications = ledger.recorder.select_notifications(start=1, limit=100, topics=topics)
    events = [ledger.mapper.to_domain_event(n) for n in notifications]
    return {e.code: e for e in events if isinstance(e, Organisation.Registered)}


def seal_and_audit(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    sealer = Sealer(
        settings.database_url, signer_from_settings(settings), discloser_from_settings(settings)
    )
    sealer.seal()
    sealer.close()
    code = main(["verify", "--audit"])
    out, err = capsys.readouterr()
    return code, out + err


def test_the_registration_commands_nation_reaches_the_registered_event(
    cli_env: Settings, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    for source, code, name, nation in [
        ("urn:ledger:service:scot:benefits", "SSS", "Social Security Scotland", "scotland"),
        ("urn:ledger:service:ni:housing", "NIHE", "the Housing Executive", "northern-ireland"),
    ]:
        assert (
            main(
                [
                    "services",
                    "register",
                    source,
                    "--organisation",
                    code,
                    "--organisation-name",
                    name,
                    "--nation",
                    nation,
                    "--name",
                    "Case system",
                    "--types",
                    DATA_ACCESSED,
                ]
            )
            == 0
        )
    administration(ledger).register_organisation("DWP", "the Department for Work and Pensions")
    capsys.readouterr()

    events = registered_events(ledger)

    assert {code: e.nation for code, e in events.items()} == {
        "SSS": "scotland",
        "NIHE": "northern-ireland",
        "DWP": "england-and-wales",
    }
    dwp = ledger.repository.get(Organisation.create_id("DWP"))
    assert isinstance(dwp, Organisation) and dwp.nation == "england-and-wales"
    with pytest.raises(SystemExit):
        main(["services", "register", "urn:x", "--organisation", "X1", "--nation", "wales"])


def rewrite(settings: Settings, position: int, state: dict[str, Any]) -> None:
    """Rewrite a stored event's state as someone with the owner's access could."""
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("SET session_replication_role = replica")  # past the append-only guard
        conn.execute(
            "UPDATE ledger_events SET state = %s WHERE notification_id = %s",
            (orjson.dumps(state), position),
        )


def test_a_registration_stored_before_nations_loads_and_passes_the_audit(
    cli_env: Settings, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = administration(ledger)
    admin.register_organisation("DWP", "the Department for Work and Pensions")
    admin.register_organisation("SSS", "Social Security Scotland", "scotland")
    position, state = registrations(cli_env)["DWP"]
    del state["nation"]  # as every registration was stored before organisations had one
    rewrite(cli_env, position, state)

    later = Ledger.from_settings(cli_env)
    try:
        dwp = later.repository.get(Organisation.create_id("DWP"))
        events = registered_events(later)
    finally:
        later.close()
    code, said = seal_and_audit(cli_env, capsys)

    assert "nation" not in registrations(cli_env)["DWP"][1]
    assert isinstance(dwp, Organisation) and dwp.nation == "england-and-wales"
    assert events["DWP"].nation == "england-and-wales" and events["SSS"].nation == "scotland"
    assert code == 0, said


def test_the_audit_names_a_nation_changed_by_hand_even_to_the_default(
    cli_env: Settings, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    administration(ledger).register_organisation("SSS", "Social Security Scotland", "scotland")
    position, state = registrations(cli_env)["SSS"]
    rewrite(cli_env, position, {**state, "nation": "england-and-wales"})  # before it is sealed

    code, said = seal_and_audit(cli_env, capsys)

    assert code == 1 and f"position {position}" in said, said
