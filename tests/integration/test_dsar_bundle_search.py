"""The response bundle on real servers: signed events of two organisations about two
people go through the write path, are projected and sealed; the bundle for (Alex, DWP)
holds exactly Alex's records involving DWP, its proofs are those the log serves one by
one, it verifies offline through `ledger verify bundle`, and a tampered copy fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ledger_emitter import Emitter, SigningKey, canonical

from ledger.application import Ledger
from ledger.catalogue import CONSENT_GIVEN, DATA_ACCESSED, DATA_SHARED, OBJECTION_SET, SAR_RECEIVED
from ledger.dsar.bundle import Case, Controller, SubjectItem, build_bundle
from ledger.dsar.redaction import RedactionDecision
from ledger.incoming import Direct, Incoming, Status
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.transparency.checkpoint import unb64
from ledger.transparency.reader import LogReader
from ledger.transparency.sealer import Sealer, signer_from_settings
from ledger.writing import WritePath
from projections.dsar_search import THIRD_PARTY_MEMBERS, assemble_bundle
from tests.support.ledger import access_data, administration, make_intake, wait_until
from tests.support.views import running_projections, subject_key

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ALEX, SAM = "9434765919", "4010232137"
TYPES = [DATA_ACCESSED, DATA_SHARED, CONSENT_GIVEN, OBJECTION_SET, SAR_RECEIVED]
DWP = Controller("DWP", "the Department for Work and Pensions")
CASE = Case("SAR-2026-0042", date.today())


def service(ledger: Ledger, code: str, name: str) -> Emitter:
    admin = administration(ledger)
    admin.register_organisation(code, name)
    source = f"urn:ledger:service:{code.lower()}:case-system"
    admin.register_service(source, code, "Case system", TYPES)
    key = SigningKey.generate()
    admin.register_key(source, key.public_key, datetime.now(UTC) - timedelta(days=1))
    return Emitter(source, key)


def nhs(number: str) -> list[dict[str, str]]:
    return [{"scheme": "nhs-number", "value": number}]


def share(nhs_number: str, sender: str, recipient: str) -> dict[str, Any]:
    return {
        "reporter": "sender",
        "sender": sender,
        "recipient": recipient,
        "subjects": nhs(nhs_number),
        "purpose": {"code": "care", "text": "to arrange your care"},
        "lawful_basis": {"article6": "public-task", "article9": None},
        "legal_gateway": {"code": "hsca-2012-s251b", "text": "Health and Social Care Act 2012"},
        "agreement": None,
        "data_categories": [{"code": "health", "text": "your health records"}],
        "retention": {"period": "P8Y", "text": "eight years"},
        "international_transfer": None,
    }


def consent(nhs_number: str, controller: str) -> dict[str, Any]:
    return {
        "subjects": nhs(nhs_number),
        "controller": controller,
        "purposes": [{"code": "updates", "text": "to send you updates by text message"}],
        "data_categories": [{"code": "contact-details", "text": "your contact details"}],
        "lawful_basis": {"article6": "consent", "article9": None},
        "collection": {"method": "online", "notice": {"version": "1", "sha256": "0" * 64}},
        "expires_at": None,
    }


def national_opt_out(nhs_number: str) -> dict[str, Any]:
    return {
        "subjects": nhs(nhs_number),
        "controller": None,
        "kind": "opt-out",
        "purposes": [{"code": "research", "text": "research and planning"}],
    }


def request(nhs_number: str, organisation: str) -> dict[str, Any]:
    return {
        "case": {"organisation": organisation, "reference": CASE.reference},
        "subjects": nhs(nhs_number),
        "channel": "online",
        "requester": "subject",
        "identity_required": False,
    }


def submit(ledger: Ledger, settings: Settings, events: dict[str, dict[str, Any]]) -> dict[str, int]:
    path = WritePath(ledger, make_intake(ledger, settings))
    outcomes = path.submit([Incoming(canonical(e), Direct()) for e in events.values()])
    assert all(o.status is Status.RECORDED for o in outcomes), outcomes
    return {name: o.position or 0 for name, o in zip(events, outcomes, strict=True)}


@pytest.fixture
def recorded(settings: Settings) -> Iterator[dict[str, int]]:
    """Alex and Sam, DWP and NHS England: each event's position, by name; projected
    and sealed."""
    ledger = Ledger.from_settings(settings)
    dwp, nhse = service(ledger, "DWP", DWP.name), service(ledger, "NHSE", "NHS England")
    at = datetime.now(UTC) - timedelta(days=3)
    events = {
        "dwp-sees-alex": dwp.build(DATA_ACCESSED, access_data(ALEX), time=at),
        "dwp-sees-sam": dwp.build(DATA_ACCESSED, access_data(SAM), time=at),
        "nhse-sees-alex": nhse.build(DATA_ACCESSED, access_data(ALEX, "NHSE"), time=at),
        "dwp-sends-alex": dwp.build(DATA_SHARED, share(ALEX, "DWP", "NHSE"), time=at),
        "nhse-sends-alex": nhse.build(DATA_SHARED, share(ALEX, "NHSE", "DWP"), time=at),
        "nhse-sends-sam": nhse.build(DATA_SHARED, share(SAM, "NHSE", "DWP"), time=at),
        "alex-consents-to-dwp": dwp.build(CONSENT_GIVEN, consent(ALEX, "DWP"), time=at),
        "alex-consents-to-nhse": nhse.build(CONSENT_GIVEN, consent(ALEX, "NHSE"), time=at),
        "alex-opts-out": nhse.build(OBJECTION_SET, national_opt_out(ALEX), time=at),
        "alex-asks-dwp": dwp.build(SAR_RECEIVED, request(ALEX, "DWP"), time=at),
    }
    positions = submit(ledger, settings, events)
    with running_projections(settings):
        wait_until(lambda: _projected(settings) >= max(positions.values()), what="the views")
    sealer = Sealer.from_settings(settings)
    sealer.seal()
    sealer.close()
    ledger.close()
    yield positions


def _projected(settings: Settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        try:
            row = conn.execute("SELECT notification_id FROM timeline.tracking").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return 0 if row is None else int(row[0])


@pytest.fixture
def log(settings: Settings) -> Iterator[LogReader]:
    reader = LogReader.from_settings(settings)
    yield reader
    reader.close()


def assemble(settings: Settings, log: LogReader, **options: Any) -> Any:
    keyring = Keyring.from_settings(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        return assemble_bundle(
            conn,
            log,
            keyring,
            signer_from_settings(settings),
            organisation=DWP,
            case=CASE,
            subject_key=subject_key(settings, f"nhs-number:{ALEX}"),
            **options,
        )


def verify(settings: Settings, bundle: Path, key: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env = {k: v for k, v in env.items() if not k.startswith("LEDGER_")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "verify", "bundle", str(bundle), "--key", str(key)],
        cwd=bundle.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_bundle_holds_exactly_alexs_records_involving_dwp_and_verifies_offline(
    settings: Settings, recorded: dict[str, int], log: LogReader, tmp_path: Path
) -> None:
    bundle = assemble(settings, log)

    expected = ["dwp-sees-alex", "dwp-sends-alex", "nhse-sends-alex", "alex-consents-to-dwp"]
    expected.append("alex-asks-dwp")
    got = {item["position"] for item in bundle.document["items"]}
    assert got == {recorded[name] for name in expected}
    assert bundle.not_yet_sealed == 0 and bundle.records == 5 and bundle.redactions == 1
    sentences = [item["sentence"] for item in bundle.document["items"]]
    assert any(
        s.startswith("The Department for Work and Pensions looked at your") for s in sentences
    )
    assert any(s.startswith("NHS England shared your health records with") for s in sentences)
    sections = {s["key"]: s for s in bundle.document["sections"]}
    assert [e["organisation"] for e in sections["recipients"]["entries"]] == ["NHSE"]
    assert [e["organisation"] for e in sections["source"]["entries"]] == ["NHSE"]
    assert b"staff-0042" not in bundle.json_bytes

    (tmp_path / "response.json").write_bytes(bundle.json_bytes)
    (tmp_path / "log.vkey").write_text(log.key.verifier_key + "\n")
    checked = verify(settings, tmp_path / "response.json", tmp_path / "log.vkey")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK: 5 items")

    tampered = json.loads(bundle.json_bytes)
    tampered["items"][0]["sentence"] = "Nobody looked at anything."
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    refused = verify(settings, tmp_path / "tampered.json", tmp_path / "log.vkey")
    assert refused.returncode == 1
    assert "'sentence' is not what the ledger signed" in refused.stderr


def test_the_proofs_are_those_the_log_serves_one_by_one(
    settings: Settings, recorded: dict[str, int], log: LogReader
) -> None:
    bundle = assemble(settings, log)
    head = bundle.document["manifest"]["tree_head"]

    for entry in bundle.document["manifest"]["entries"]:
        single = log.inclusion(entry["position"], head["tree_size"])
        assert entry["inclusion_path"] == single["inclusion_path"]
        assert entry["leaf_hash"] == single["leaf_hash"]
        assert entry["leaf_input"] == single["leaf_input"]
    for item in bundle.document["items"]:
        shown = log.event(item["position"])
        assert unb64(item["disclosable"], "disclosable") == shown.content


def test_the_bundle_is_byte_for_byte_the_one_built_from_the_log_read_one_by_one(
    settings: Settings, recorded: dict[str, int], log: LogReader
) -> None:
    """The search reads every leaf, event and proof node in a few set-based queries;
    the same items read one at a time through the log's own single reads (its event,
    its inclusion proof) build the same bytes."""
    moment = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)
    bundle = assemble(settings, log, now=lambda: moment)
    head = log.latest_head()
    person = frozenset({subject_key(settings, f"nhs-number:{ALEX}")})

    items = []
    for item in bundle.document["items"]:
        shown = log.event(item["position"], person)
        proof = log.inclusion(item["position"], head.head.tree_size)
        items.append(
            SubjectItem(
                position=item["position"],
                leaf_index=proof["leaf_index"],
                kind=item["kind"],
                occurred_at=datetime.fromisoformat(item["occurred_at"]),
                recorded_at=datetime.fromisoformat(item["recorded_at"]),
                organisation=item["organisation"],
                sentence=item["sentence"],
                detail=item["detail"],
                disclosable=shown.content,
                leaf_input=unb64(proof["leaf_input"], "leaf input"),
                inclusion_path=[unb64(h, "node") for h in proof["inclusion_path"]],
                openings=shown.openings,
                third_parties=tuple(
                    f for f, m in THIRD_PARTY_MEMBERS.items() if m in shown.content
                ),
            )
        )
    rebuilt = build_bundle(
        controller=DWP,
        case=CASE,
        items=items,
        head=head,
        signer=signer_from_settings(settings),
        names=bundle.document["organisations"],
        generated_at=moment,
    )

    assert bundle.records == 5
    assert rebuilt.json_bytes == bundle.json_bytes


def test_an_officer_discloses_one_official_from_the_envelope_the_event_keeps(
    settings: Settings, recorded: dict[str, int], log: LogReader
) -> None:
    position = recorded["dwp-sees-alex"]
    decision = RedactionDecision(
        position, "official", True, "officer-1", "the official agreed", datetime.now(UTC)
    )
    bundle = assemble(
        settings, log, decisions=[decision], disclose_official=lambda staff: f"{staff} (J. Doe)"
    )

    item = next(i for i in bundle.document["items"] if i["position"] == position)
    assert item["third_parties"] == {"official": "staff-0042 (J. Doe)"}
    assert bundle.redactions == 0


def test_a_record_not_yet_sealed_is_left_out_and_the_bundle_says_so(
    settings: Settings, recorded: dict[str, int], log: LogReader
) -> None:
    ledger = Ledger.from_settings(settings)
    dwp = service(ledger, "DWP", DWP.name)  # the same service, with a key of its own
    later = submit(ledger, settings, {"later": dwp.build(DATA_ACCESSED, access_data(ALEX))})
    ledger.close()
    with running_projections(settings):
        wait_until(lambda: _projected(settings) >= later["later"], what="the views")

    bundle = assemble(settings, log)

    assert later["later"] not in {i["position"] for i in bundle.document["items"]}
    assert bundle.not_yet_sealed == 1
    assert (
        "1 record about you recorded after that is not in it yet"
        in (bundle.document["cut_off"]["text"])
    )
