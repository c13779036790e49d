"""Signed consent receipts on real servers: a citizen fetches the receipt of a change to
their consent through the API (and the portal), `ledger verify receipt` checks it
offline with only the log's public key, and a tampered one fails with a reason; another
citizen's is 404; a change not sealed yet is 503 with Retry-After."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ledger_emitter import canonical

from api.app import create_app
from cli.main import main
from ledger import choices, held_keys
from ledger.application import Ledger
from ledger.choices import PORTAL
from ledger.held_keys import HeldSigners
from ledger.incoming import Direct, Incoming, Status
from ledger.receipts import verify_receipt
from ledger.settings import Settings
from ledger.subjects import SubjectId
from ledger.transparency.checkpoint import LogKey, b64
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from ledger.writing import WritePath
from tests.integration.test_portal_choices import signed_in
from tests.support.ledger import administration
from tests.support.tokens import bearer
from tests.support.views import running_projections

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALEX = SubjectId.from_text("nhs-number:9434765919")  # the development sign-in's Alex
SAM = SubjectId.from_text("nino:AB123456C")
PURPOSE = {"code": "research", "text": "for research that could improve care"}
TERMS = {
    "data_categories": [{"code": "contact-details", "text": "your phone number"}],
    "lawful_basis": {"article6": "consent", "article9": None},
    "collection": {"method": "paper", "notice": {"version": "3", "sha256": "cd" * 32}},
}


class Ledgered:
    """Records signed portal changes through the one write path and seals them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger = Ledger.from_settings(settings)
        admin = administration(self.ledger)
        assert self.ledger.trust is not None
        self.keyring = self.ledger.trust.keyring
        admin.register_organisation("DWP", "the Department for Work and Pensions")
        held_keys.enable(PORTAL, admin, self.keyring, "DWP")
        self.path = WritePath.from_settings(settings)

    def record(self, change: Any, subject: SubjectId, state: str) -> int:
        emitter = HeldSigners(PORTAL, self.ledger, self.keyring).emitter("DWP")
        row = {"controller": "DWP", "purpose": PURPOSE, "state": state, "terms": TERMS}
        event = emitter.build(*change(subject, row))
        (outcome,) = self.path.submit([Incoming(canonical(event), Direct())])
        assert outcome.status is Status.RECORDED, outcome
        assert outcome.position is not None
        return outcome.position

    def seal(self) -> None:
        settings = self.settings
        sealer = Sealer(
            settings.database_url,
            signer_from_settings(settings),
            discloser_from_settings(settings),
        )
        sealer.seal()
        sealer.close()

    def close(self) -> None:
        self.path.close()
        self.ledger.close()


@pytest.fixture
def ledgered(settings: Settings) -> Iterator[Ledgered]:
    found = Ledgered(settings)
    yield found
    found.close()


@pytest.fixture
def api(settings: Settings, ledgered: Ledgered) -> Iterator[TestClient]:
    with (
        running_projections(settings),
        TestClient(create_app(settings), headers=bearer(settings, "citizen", str(ALEX))) as client,
    ):
        yield client


def _receipt_address(subject: SubjectId, position: int) -> str:
    # ?position= waits until the consent view holds the change (read your writes).
    return f"/v1/citizens/{subject}/consents/{position}/receipt?position={position}"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real `ledger` command, in its own process (this checkout first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "sdk/python/src")])}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_a_receipt_from_the_api_verifies_offline_and_a_tampered_one_fails(
    api: TestClient, ledgered: Ledgered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = ledgered.record(choices.consent_again, ALEX, "withdrawn")
    withdrawn = ledgered.record(choices.withdrawal, ALEX, "given")
    ledgered.seal()

    answer = api.get(_receipt_address(ALEX, withdrawn))
    assert answer.status_code == 200, answer.text
    assert "attachment" in answer.headers["content-disposition"]
    receipt = answer.json()
    record = receipt["record"]
    assert record["state"] == "withdrawn"
    assert [(s["state"], s["position"]) for s in record["history"]] == [
        ("given", given),
        ("withdrawn", withdrawn),
    ]
    assert record["controller"] == {"code": "DWP", "name": "the Department for Work and Pensions"}
    assert record["purposes"][0]["dpv"][0]["iri"] == "https://w3id.org/dpv#ResearchAndDevelopment"
    assert record["lawful_basis"]["dpv"] == [
        {"iri": "https://w3id.org/dpv#Consent", "label": "Consent"}
    ]
    assert record["notice"]["version"] == "3"
    assert str(ALEX).split(":")[1] not in answer.text  # no identifier in clear
    # The consents list gives each change's position: where its receipt is.
    history = api.get(f"/v1/citizens/{ALEX}/consents").json()["records"][0]["history"]
    assert [step["position"] for step in history] == [given, withdrawn]

    key = LogKey.parse(api.get("/v1/log/key").json()["verifier_key"])
    good = tmp_path / "receipt.json"
    good.write_text(answer.text)

    assert main(["verify", "receipt", str(good), "--key", key.verifier_key]) == 0
    assert capsys.readouterr().out.startswith("OK: consent receipt ")
    done = _cli("verify", "receipt", str(good), "--key", key.verifier_key)
    assert done.returncode == 0, done.stderr
    assert "OK: consent receipt" in done.stdout

    def tampered(change: Any, name: str) -> subprocess.CompletedProcess[str]:
        altered = copy.deepcopy(receipt)
        change(altered)
        path = tmp_path / name
        path.write_text(json.dumps(altered))
        return _cli("verify", "receipt", str(path), "--key", key.verifier_key)

    purpose = tampered(
        lambda r: r["record"]["purposes"][0].update(text="for anything at all"), "purpose.json"
    )
    assert purpose.returncode == 1
    assert "signature: not valid" in purpose.stderr and "record.purposes[0].text:" in purpose.stderr

    state = tampered(lambda r: r["record"].update(state="given"), "state.json")
    assert state.returncode == 1 and "record.state:" in state.stderr

    node = tampered(
        lambda r: r["evidence"]["events"][1]["proof"]["inclusion_path"].__setitem__(
            0, b64(bytes(32))
        ),
        "node.json",
    )
    assert node.returncode == 1 and "inclusion proof refused" in node.stderr

    other_key = "ledger.example/log+00000000+AW" + "A" * 42 + "="
    wrong = _cli("verify", "receipt", str(good), "--key", other_key)
    assert wrong.returncode != 0

    not_a_receipt = tmp_path / "proof.json"
    not_a_receipt.write_text(json.dumps(receipt["evidence"]["events"][0]["proof"]))
    usage = _cli("verify", "receipt", str(not_a_receipt), "--key", key.verifier_key)
    assert usage.returncode == 2 and "not a consent receipt" in usage.stderr


def test_a_receipt_signed_by_another_log_key_fails(api: TestClient, ledgered: Ledgered) -> None:
    position = ledgered.record(choices.consent_again, ALEX, "withdrawn")
    ledgered.seal()
    receipt = api.get(_receipt_address(ALEX, position)).json()
    assert verify_receipt(receipt, api.app.state.log_signer.key).ok  # type: ignore[attr-defined]

    import nacl.signing

    from ledger.transparency.checkpoint import LogSigner

    other = LogSigner(api.app.state.log_signer.key.name, nacl.signing.SigningKey(bytes(32)))  # type: ignore[attr-defined]
    report = verify_receipt(receipt, other.key)
    assert not report.ok
    assert any(p.startswith("signature: made with key id") for p in report.problems)


def test_another_citizens_receipt_is_not_found(
    settings: Settings, api: TestClient, ledgered: Ledgered
) -> None:
    sams = ledgered.record(choices.consent_again, SAM, "withdrawn")
    alexs = ledgered.record(choices.consent_again, ALEX, "withdrawn")
    ledgered.seal()

    # Alex asks for Sam's change under Alex's own identifier: no consent of Alex's is there.
    answer = api.get(_receipt_address(ALEX, sams))
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("/receipt-not-found")
    # ... and under Sam's identifier, which is not Alex's: refused before anything is read.
    assert api.get(_receipt_address(SAM, sams)).status_code == 403
    # A position where something else happened is not a consent change either.
    assert api.get(_receipt_address(ALEX, 1)).status_code == 404
    # Sam's own token gets Sam's; Alex's is there for Alex.
    sam = bearer(settings, "citizen", str(SAM))
    assert api.get(_receipt_address(SAM, sams), headers=sam).status_code == 200
    assert api.get(_receipt_address(ALEX, alexs)).status_code == 200


def test_a_change_not_sealed_yet_is_503_with_retry_after(
    api: TestClient, ledgered: Ledgered
) -> None:
    ledgered.record(choices.consent_again, ALEX, "withdrawn")
    ledgered.seal()
    unsealed = ledgered.record(choices.withdrawal, ALEX, "given")

    answer = api.get(_receipt_address(ALEX, unsealed))
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"].endswith("/not-yet-sealed")

    ledgered.seal()
    assert api.get(_receipt_address(ALEX, unsealed)).status_code == 200


def test_the_portal_links_each_consents_receipt_and_it_verifies(
    settings: Settings, ledgered: Ledgered
) -> None:
    ledgered.record(choices.consent_again, ALEX, "withdrawn")
    withdrawn = ledgered.record(choices.withdrawal, ALEX, "given")
    ledgered.seal()
    with running_projections(settings), TestClient(create_app(settings)) as portal:
        signed_in(portal)
        page = ""
        for _ in range(50):  # until the consent view holds the withdrawal
            page = portal.get("/choices").text
            if "Consent withdrawn" in page:
                break
        link = re.search(r'href="(/choices/receipts/(\d+))"[^>]*>Download your receipt', page)
        assert link, page
        assert int(link.group(2)) == withdrawn  # the consent's latest change
        assert "check yourself" in page

        answer = portal.get(link.group(1))
        assert answer.status_code == 200
        assert "attachment" in answer.headers["content-disposition"]
        key = portal.app.state.log_signer.key  # type: ignore[attr-defined]
        report = verify_receipt(answer.json(), key)
        assert report.ok, report.problems
        assert answer.json()["record"]["state"] == "withdrawn"

        assert portal.get("/choices/receipts/1").status_code == 404
        assert portal.get("/choices/receipts/nothing").status_code == 404
