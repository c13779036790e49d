"""Proofs without disclosure: a proof is hashes; an event's content (its disclosable
form, personal fields as salted commitments) goes only to whom may see it; nothing
served links one person across organisations; an export holds no pseudonym."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from ledger_emitter import Emitter, SigningKey, canonical

from api.app import create_app
from cli.main import main
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.incoming import Direct, Incoming
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.transparency import store
from ledger.transparency.leaves import LeafInput
from ledger.transparency.sealer import Sealer
from ledger.writing import WritePath
from tests.support.ledger import access_data, administration, make_intake, register_dwp
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

ALEX, SAM = "nhs-number:9434765919", "nhs-number:9999999999"
NHSE_SOURCE = "urn:ledger:service:nhse:summary-care-record"


def register_nhse(ledger: Ledger) -> Emitter:
    admin = administration(ledger)
    admin.register_organisation("NHSE", "NHS England")
    admin.register_service(NHSE_SOURCE, "NHSE", "Summary Care Record", [DATA_ACCESSED])
    key = SigningKey.generate()
    admin.register_key(NHSE_SOURCE, key.public_key, datetime.now(UTC) - timedelta(days=1))
    return Emitter(NHSE_SOURCE, key)


@pytest.fixture
def log(settings: Settings) -> Iterator[dict[str, int]]:
    """Alex seen by DWP and, under break-glass, by NHS England; Sam seen by DWP. Sealed.
    The position of each event, by name."""
    ledger = Ledger.from_settings(settings)
    dwp, nhse = register_dwp(ledger), register_nhse(ledger)
    emergency = {**access_data(organisation="NHSE"), "break_glass": True}
    events = {
        "dwp-alex": dwp.build(DATA_ACCESSED, access_data("9434765919")),
        "nhse-alex": nhse.build(DATA_ACCESSED, emergency),
        "dwp-sam": dwp.build(DATA_ACCESSED, access_data("9999999999")),
    }
    path = WritePath(ledger, make_intake(ledger, settings))
    outcomes = path.submit([Incoming(canonical(e), Direct()) for e in events.values()])
    ledger.close()
    sealer = Sealer.from_settings(settings)
    sealer.seal()
    sealer.close()
    yield {name: o.position or 0 for name, o in zip(events, outcomes, strict=True)}


@pytest.fixture
def api(settings: Settings, log: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def pseudonyms(settings: Settings) -> set[str]:
    """Every subject and official pseudonym the stored events hold (opened with their
    data keys: stored, they are sealed)."""
    vault = Keyring.from_settings(settings).vault()
    with psycopg.connect(settings.database_url) as conn:
        rows = store.open_rows(conn, vault, store.events_after(conn, 0, 1_000_000))
    found = {value for row in rows if row.opened for _, value in row.opened.values}
    assert found, "the events hold pseudonyms: the test looks for them"
    return found


def content(api: TestClient, position: int, token: dict[str, str], **query: str) -> Any:
    return api.get(f"/v1/log/events/{position}", headers=token, params=query)


def test_an_inclusion_proof_is_hashes_only_whoever_asks(
    api: TestClient, settings: Settings, log: dict[str, int]
) -> None:
    dwp_service = bearer(settings, "service", organisation="DWP")
    proof = api.get(
        "/v1/log/proofs/inclusion", params={"position": log["nhse-alex"]}, headers=dwp_service
    )

    assert proof.status_code == 200
    text = proof.text
    for secret in pseudonyms(settings) | {"NHSE", "break_glass", "health", "Work coach"}:
        assert secret not in text
    leaf = LeafInput.parse(base64.b64decode(proof.json()["leaf_input"]))
    assert leaf.leaf_format == 2 and leaf.state is None  # digests, not the event


def test_a_service_walking_the_log_sees_only_its_own_organisations_events(
    api: TestClient, settings: Settings, log: dict[str, int]
) -> None:
    dwp_service = bearer(settings, "service", organisation="DWP")
    seen = {}
    for position in range(1, max(log.values()) + 1):
        answer = content(api, position, dwp_service)
        seen[position] = answer.status_code
        if answer.status_code == 200:
            assert not pseudonyms(settings) & set(json.dumps(answer.json()).split('"'))
    assert seen[log["dwp-alex"]] == seen[log["dwp-sam"]] == 200
    assert seen[log["nhse-alex"]] == 403
    assert all(code in (200, 403) for code in seen.values())


def test_a_citizen_sees_their_own_event_and_checks_it_against_the_leaf(
    api: TestClient, settings: Settings, log: dict[str, int]
) -> None:
    alex = bearer(settings, "citizen", ALEX)
    answer = content(api, log["nhse-alex"], alex)

    assert answer.status_code == 200
    body = answer.json()
    shown = base64.b64decode(body["disclosable"])
    leaf = LeafInput.parse(base64.b64decode(body["leaf_input"]))
    assert hashlib.sha256(shown).digest() == leaf.content_sha256  # the content is the leaf's
    assert body["event"]["break_glass"] is True and body["event"]["organisation"] == "NHSE"
    (opening,) = body["openings"]  # that the event names Alex, shown to Alex alone
    committed = body["event"]["subject_keys"][0]
    salt, value = bytes.fromhex(opening["salt"]), opening["value"]
    assert committed == "commit:" + hashlib.sha256(salt + value.encode()).hexdigest()

    sam = bearer(settings, "citizen", SAM)
    assert content(api, log["nhse-alex"], sam).status_code == 403


def test_an_auditor_gives_a_reason_and_the_showing_is_kept(
    api: TestClient, settings: Settings, log: dict[str, int]
) -> None:
    auditor = bearer(settings, "auditor")
    assert content(api, log["nhse-alex"], auditor).status_code == 400

    shown = content(api, log["nhse-alex"], auditor, reason="complaint 2026/117 from NHSE")

    assert shown.status_code == 200 and shown.json()["openings"] == []
    with psycopg.connect(settings.database_url) as conn:
        kept = conn.execute("SELECT position, role, reason FROM ledger_log_disclosures").fetchall()
    assert kept == [(log["nhse-alex"], "auditor", "complaint 2026/117 from NHSE")]


def test_an_export_publishes_no_pseudonym_and_audits_offline(
    cli_env: Settings, log: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "log.jsonl"
    assert main(["export", str(export)]) == 0
    key = tmp_path / "log.vkey"
    capsys.readouterr()
    assert main(["log-key"]) == 0
    key.write_text(capsys.readouterr().out.strip())

    text = export.read_text()
    assert pseudonyms(cli_env) and not any(p in text for p in pseudonyms(cli_env))
    assert main(["verify", "--audit", "--export", str(export), "--key", str(key)]) == 0
