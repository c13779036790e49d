"""The log's HTTP API on a real database: signed heads, checkpoints and proofs that the
offline verifier accepts, and problem details for what is not there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, event
from fastapi.testclient import TestClient

from api.app import create_app
from cli.main import main
from ledger.application import Ledger
from ledger.domain.access import DataAccess
from ledger.settings import Settings
from ledger.transparency.checkpoint import LogKey, SignedTreeHead, parse_checkpoint
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from tests.integration.test_transparency_sealer import event_rows, record_events
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration


class Submitted(Aggregate):
    """An aggregate keyed like a one-per-submission fact (an access, a share)."""

    @staticmethod
    def create_id(source: str, event_id: str) -> object:
        return DataAccess.create_id(source, event_id)

    @event("Recorded")
    def __init__(self, source: str, event_id: str) -> None:
        self.source, self.event_id = source, event_id


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    ledger = Ledger.from_settings(settings)
    record_events(ledger, 20)
    ledger.save(Submitted(source="urn:test:service", event_id="evt-42"))
    sealer = Sealer(
        settings.database_url,
        signer_from_settings(settings),
        discloser_from_settings(settings),
        batch=8,
    )
    sealer.seal()  # heads at 8, 16, 21
    record_events(ledger, 2, "UNSEALED")
    ledger.close()
    sealer.close()
    with TestClient(create_app(settings), headers=bearer(settings, "auditor")) as client:
        yield client


def key_of(client: TestClient) -> LogKey:
    return LogKey.parse(client.get("/v1/log/key").json()["verifier_key"])


def verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str, body: object, key: LogKey
) -> tuple[int, str]:
    proof = tmp_path / f"{kind}.json"
    proof.write_text(json.dumps(body))
    code = main(["verify", f"--{kind}", str(proof), "--key", key.verifier_key])
    out, err = capsys.readouterr()
    return code, out + err


def test_the_latest_tree_head_is_signed_by_the_published_key(client: TestClient) -> None:
    key = key_of(client)
    signed = SignedTreeHead.from_json(client.get("/v1/log/tree-heads/latest").json())

    key.verify(signed.head, signed.signature)
    assert signed.head.tree_size == 21


def test_every_past_tree_head_is_served_and_unsigned_sizes_are_problems(client: TestClient) -> None:
    assert client.get("/v1/log/tree-heads/8").json()["tree_size"] == 8
    missing = client.get("/v1/log/tree-heads/9")

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"].endswith("/no-tree-head")


def test_the_checkpoint_is_a_c2sp_signed_note(client: TestClient) -> None:
    response = client.get("/v1/log/checkpoint", params={"tree_size": 16})

    assert response.headers["content-type"].startswith("text/plain")
    origin, size, _root, stamp, blank, signature, end = response.text.split("\n")
    assert (origin, size, blank, end) == ("ledger.example/log", "16", "", "")
    assert stamp.startswith("timestamp ") and signature.startswith("\u2014 ledger.example/log ")
    assert parse_checkpoint(response.text, key_of(client)).head.tree_size == 16


def test_an_inclusion_proof_by_position_verifies_offline(
    client: TestClient, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    position = event_rows(settings)[13].position
    body = client.get(
        "/v1/log/proofs/inclusion", params={"position": position, "tree_size": 16}
    ).json()

    assert (body["leaf_index"], body["tree_size"]) == (13, 16)
    assert body["nodes_read"] <= 4  # log2(16)
    code, said = verify(capsys, tmp_path, "inclusion", body, key_of(client))
    assert code == 0 and f"position {position} (leaf 13)" in said

    body["inclusion_path"][1] = body["inclusion_path"][0]
    code, said = verify(capsys, tmp_path, "inclusion", body, key_of(client))
    assert code == 1 and "inclusion proof refused: root mismatch" in said


def test_an_inclusion_proof_by_event_id(client: TestClient, settings: Settings) -> None:
    body = client.get(
        "/v1/log/proofs/inclusion", params={"source": "urn:test:service", "id": "evt-42"}
    ).json()

    assert body["leaf_index"] == 20 and body["tree_size"] == 21
    unknown = client.get("/v1/log/proofs/inclusion", params={"source": "urn:x", "id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("/not-in-log")


def test_proofs_for_what_the_log_cannot_prove_are_problems(
    client: TestClient, settings: Settings
) -> None:
    rows = event_rows(settings)
    newer = client.get(
        "/v1/log/proofs/inclusion", params={"position": rows[20].position, "tree_size": 8}
    )
    unsealed = client.get("/v1/log/proofs/inclusion", params={"position": rows[-1].position})
    neither = client.get("/v1/log/proofs/inclusion")

    assert newer.status_code == 404 and newer.json()["type"].endswith("/leaf-not-in-tree")
    assert unsealed.status_code == 404 and unsealed.json()["type"].endswith("/not-yet-sealed")
    assert neither.status_code == 400 and neither.json()["type"].endswith("/invalid-query")


def test_a_consistency_proof_verifies_offline_and_a_doctored_one_does_not(
    client: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = client.get("/v1/log/proofs/consistency", params={"first": 8}).json()

    assert (body["first"]["tree_size"], body["second"]["tree_size"]) == (8, 21)
    code, said = verify(capsys, tmp_path, "consistency", body, key_of(client))
    assert code == 0 and "extends the tree of size 8" in said

    body["second"]["root_hash"] = body["first"]["root_hash"]
    code, said = verify(capsys, tmp_path, "consistency", body, key_of(client))
    assert code == 1 and "second tree head" in said and "not valid" in said


def test_the_verifier_refuses_a_proof_signed_by_another_key(
    client: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = client.get("/v1/log/proofs/consistency", params={"first": 8, "second": 16}).json()
    other = LogKey("ledger.example/log", bytes(32 * [7]))

    code, said = verify(capsys, tmp_path, "consistency", body, other)

    assert code == 1 and "not valid" in said


def test_the_verifier_says_usage_for_files_that_are_not_proofs(
    client: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, said = verify(capsys, tmp_path, "inclusion", {"kind": "something else"}, key_of(client))

    assert code == 2 and "not an inclusion proof" in said
