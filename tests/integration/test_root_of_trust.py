"""Every event checks back to the root of trust: what someone with write access to the
database inserts by hand (a key, an access, a replayed change, a refused resend), or
alters before the sealer seals it, is trusted by no process and named by
``ledger verify --audit``, even once sealed.

Before, a key inserted into ``ledger_events`` was sealed and then trusted: events signed
with it were accepted and shown to citizens, and the audit passed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.utils import get_topic
from ledger_emitter import SigningKey, canonical

from cli.main import main
from ledger.application import Ledger
from ledger.catalogue.examples import UC_SOURCE, published_test_key
from ledger.domain.access import DataAccess
from ledger.domain.anomaly import ResendConflict
from ledger.domain.consent import Consent
from ledger.domain.registry import Service
from ledger.incoming import Direct, Incoming, Status
from ledger.refusals import Reason
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from ledger.writing import WritePath
from tests.support.contract import (
    example_intake,
    register_example_service,
    story,
)

pytestmark = pytest.mark.integration

ATTACKER = SigningKey(b"\x66" * 32)
UNTRUSTED = "was not recorded from anything the root of trust vouches for"


def _write_path(settings: Settings) -> WritePath:
    ledger = Ledger.from_settings(settings)
    return WritePath(ledger, example_intake(ledger, settings))


def _seal(settings: Settings) -> None:
    sealer = Sealer(
        settings.database_url, signer_from_settings(settings), discloser_from_settings(settings)
    )
    sealer.seal()
    sealer.close()


def _conflicting_resend() -> bytes:
    """The story's first access again, same id, saying something else."""
    _, event, _ = next(s for s in story() if s[1]["type"].endswith("data-accessed.v1"))
    changed = {k: v for k, v in event.items() if k not in ("signingkey", "signature")}
    changed["data"] = {**changed["data"], "record": "another record"}
    return canonical(published_test_key().sign(changed))


@pytest.fixture
def story_log(cli_env: Settings) -> Iterator[Settings]:
    """Every event type of the contract's story, and a conflicting resend, recorded
    through the write path (not sealed yet: see ``sealed``)."""
    write = _write_path(cli_env)
    register_example_service(write.ledger)
    outcomes = write.submit([Incoming(raw, Direct()) for _, _, raw in story()])
    assert [o.status for o in outcomes] == [Status.RECORDED] * len(outcomes), outcomes
    (conflict,) = write.submit([Incoming(_conflicting_resend(), Direct())])
    assert conflict.refusal is not None
    assert conflict.refusal.reason == Reason.CONFLICTING_RESEND
    write.close()
    yield cli_env


def audit(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["verify", "--audit"])
    out, err = capsys.readouterr()
    return code, out, err


def execute(settings: Settings, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``statement`` as a superuser would, past the log's append-only triggers."""
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("SET session_replication_role = replica")
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def rows_of(settings: Settings, topic: type) -> list[tuple[int, uuid.UUID, int, dict[str, Any]]]:
    """(position, originator id, version, state) of every stored event of ``topic``."""
    found = execute(
        settings,
        "SELECT notification_id, originator_id, originator_version, state FROM ledger_events "
        "WHERE topic = %s ORDER BY notification_id",
        get_topic(topic),
    )
    return [(p, i, v, orjson.loads(bytes(s))) for p, i, v, s in found]


def latest_version(settings: Settings, originator: uuid.UUID) -> int:
    (version,) = execute(
        settings,
        "SELECT max(originator_version) FROM ledger_events WHERE originator_id = %s",
        originator,
    )[0]
    return int(version)


def insert(settings: Settings, originator: uuid.UUID, version: int, topic: type, state: Any) -> int:
    (row,) = execute(
        settings,
        "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
        "VALUES (%s, %s, %s, %s) RETURNING notification_id",
        originator,
        version,
        get_topic(topic),
        orjson.dumps(state),
    )
    return int(row[0])


def test_every_kind_of_event_checks_back_to_the_root_of_trust(
    story_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _seal(story_log)
    (count,) = execute(story_log, "SELECT count(*) FROM ledger_events")[0]
    assert rows_of(story_log, ResendConflict.Recorded), "the story's log holds a refused resend"

    code, out, err = audit(capsys)

    assert code == 0, err
    assert f"every one of {count} events was recorded from an envelope signed by a key" in out


def _hand_registered_key(settings: Settings, *, keep_envelope: bool) -> int:
    """A key of the attacker's, registered to the UC service by a row written by hand:
    a genuine registration's state with the attacker's key, its envelope kept (a copy of
    one the administrators signed for another key) or not."""
    service_id = Service.create_id(UC_SOURCE)
    _, _, _, state = next(r for r in rows_of(settings, Service.KeyRegistered) if r[1] == service_id)
    version = latest_version(settings, service_id)
    forged = {**state, "key_id": ATTACKER.key_id, "public_key": ATTACKER.public_key.hex()}
    if not keep_envelope:
        forged["submission"] = None
    return insert(settings, service_id, version + 1, Service.KeyRegistered, forged)


def _signed_by_attacker(source: str) -> bytes:
    _, event, _ = next(s for s in story() if s[1]["type"].endswith("data-accessed.v1"))
    forged = {k: v for k, v in event.items() if k not in ("signingkey", "signature")}
    forged.update(id="forged-access-1", source=source)
    return canonical(ATTACKER.sign(forged))


@pytest.mark.parametrize("keep_envelope", [False, True], ids=["no-envelope", "copied-envelope"])
def test_a_key_inserted_by_hand_is_trusted_by_no_process_and_named_by_the_audit(
    story_log: Settings, capsys: pytest.CaptureFixture[str], keep_envelope: bool
) -> None:
    position = _hand_registered_key(story_log, keep_envelope=keep_envelope)
    _seal(story_log)  # the row is now a leaf under a signed tree head

    write = _write_path(story_log)  # a process started after the insertion
    try:
        (outcome,) = write.submit([Incoming(_signed_by_attacker(UC_SOURCE), Direct())])
    finally:
        write.close()
    assert outcome.status is Status.REFUSED
    assert outcome.refusal is not None and outcome.refusal.reason == Reason.UNKNOWN_KEY
    assert not [
        r for r in rows_of(story_log, DataAccess.Recorded) if r[3]["event_id"] == "forged-access-1"
    ]

    code, _, err = audit(capsys)

    assert code == 1
    assert f"ledger position {position}" in err and UNTRUSTED in err


def _alter_an_access(settings: Settings) -> int:
    """Someone edits a recorded access before it is sealed: it now names someone else."""
    position, _, _, state = rows_of(settings, DataAccess.Recorded)[0]
    state["subject_keys"] = ["someone-else"]
    execute(
        settings,
        "UPDATE ledger_events SET state = %s WHERE notification_id = %s",
        orjson.dumps(state),
        position,
    )
    return position


def _access_without_envelope(settings: Settings) -> int:
    _, _, _, state = rows_of(settings, DataAccess.Recorded)[0]
    forged = {k: v for k, v in state.items() if k not in ("envelope_sealed", "envelope_sha256")}
    return insert(settings, uuid.uuid4(), 1, DataAccess.Recorded, forged)


def _access_with_anothers_envelope(settings: Settings) -> int:
    """A copy of a genuine access, under a new id: the envelope it keeps is genuine, but
    it is the other event's."""
    _, _, _, state = rows_of(settings, DataAccess.Recorded)[0]
    return insert(settings, uuid.uuid4(), 1, DataAccess.Recorded, state)


def _consent_withdrawn_again(settings: Settings) -> int:
    """A genuine withdrawal of consent, replayed as the consent's next change."""
    _, consent_id, _, state = rows_of(settings, Consent.Withdrawn)[0]
    version = latest_version(settings, consent_id)
    return insert(settings, consent_id, version + 1, Consent.Withdrawn, state)


def _invented_resend_conflict(settings: Settings) -> int:
    """A refused resend that never happened, pinned on another organisation."""
    _, _, _, state = rows_of(settings, ResendConflict.Recorded)[0]
    return insert(
        settings, uuid.uuid4(), 1, ResendConflict.Recorded, {**state, "organisation": "HMRC"}
    )


def _key_rotation_of_another_kind(settings: Settings) -> int:
    """A stateful change whose envelope is genuine but makes another change."""
    _, service_id, _, state = rows_of(settings, Service.KeyRotated)[0]
    version = latest_version(settings, service_id)
    forged = {**state, "key_id": ATTACKER.key_id, "public_key": ATTACKER.public_key.hex()}
    return insert(settings, service_id, version + 1, Service.KeyRotated, forged)


TAMPERS: dict[str, Callable[[Settings], int]] = {
    "an access altered before it was sealed": _alter_an_access,
    "an access with no envelope": _access_without_envelope,
    "an access keeping another's envelope": _access_with_anothers_envelope,
    "a consent withdrawal replayed": _consent_withdrawn_again,
    "a refused resend invented": _invented_resend_conflict,
    "a key rotation rewritten": _key_rotation_of_another_kind,
}


@pytest.mark.parametrize("tamper", list(TAMPERS), ids=lambda name: name.replace(" ", "-"))
def test_a_row_written_by_hand_and_then_sealed_is_named_by_the_audit(
    story_log: Settings, capsys: pytest.CaptureFixture[str], tamper: str
) -> None:
    position = TAMPERS[tamper](story_log)
    _seal(story_log)

    code, _, err = audit(capsys)

    assert code == 1, tamper
    assert f"ledger position {position}" in err and UNTRUSTED in err, err


def test_a_row_written_by_hand_and_not_yet_sealed_is_named_too(
    story_log: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _seal(story_log)
    position = _access_without_envelope(story_log)

    code, _, err = audit(capsys)

    assert code == 1
    assert f"ledger position {position}" in err and UNTRUSTED in err, err
