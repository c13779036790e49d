"""The sealer against a real PostgreSQL: every event becomes a leaf, in ledger order,
each batch commits whole or not at all, and only one sealer writes at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from ledger import merkle
from ledger.application import Ledger
from ledger.settings import Settings
from ledger.transparency import scan, store
from ledger.transparency.checkpoint import LogSigner
from ledger.transparency.export import disclosed
from ledger.transparency.leaves import EventRow
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from tests.support.ledger import register_organisations

pytestmark = pytest.mark.integration


def record_events(ledger: Ledger, count: int, prefix: str = "ORG") -> None:
    """Append ``count`` events to the ledger: organisation registrations, signed by the
    administrators (so the audit's provenance check passes them)."""
    register_organisations(ledger, count, prefix)


def event_rows(settings: Settings) -> list[EventRow]:
    """The stored events, each with the disclosable form its leaf commits to."""
    with psycopg.connect(settings.database_url) as conn:
        rows = store.events_after(conn, 0, 1_000_000)
    return list(disclosed(rows, discloser_from_settings(settings)))


def make_sealer(settings: Settings, batch: int = 10_000) -> Sealer:
    return Sealer(
        settings.database_url,
        signer_from_settings(settings),
        discloser_from_settings(settings),
        batch=batch,
    )


@pytest.fixture
def sealer(settings: Settings) -> Iterator[Sealer]:
    sealer = make_sealer(settings)
    yield sealer
    sealer.close()


def test_every_event_becomes_a_leaf_in_ledger_order(
    ledger: Ledger, sealer: Sealer, settings: Settings
) -> None:
    record_events(ledger, 37)

    sealed = sealer.seal()

    rows = event_rows(settings)
    assert sealed.leaves_added == len(rows) == 37
    with psycopg.connect(settings.database_url) as conn:
        leaves = list(scan.stream_sealed(conn))
    assert [leaf.leaf_index for leaf in leaves] == list(range(37))
    assert [leaf.position for leaf in leaves] == [row.position for row in rows]
    assert [leaf.leaf_hash for leaf in leaves] == [row.leaf_hash() for row in rows]
    assert sealed.head.head.root_hash == merkle.root_from_leaf_hashes([r.leaf_hash() for r in rows])
    sealer.signer.key.verify(sealed.head.head, sealed.head.signature)


def test_an_empty_ledger_gets_a_signed_empty_tree(sealer: Sealer) -> None:
    head = sealer.seal().head.head

    assert (head.tree_size, head.root_hash) == (0, merkle.EMPTY_ROOT)


def test_leaf_indices_stay_dense_when_positions_have_gaps(
    ledger: Ledger, sealer: Sealer, settings: Settings
) -> None:
    record_events(ledger, 3, "A")
    with psycopg.connect(settings.database_url) as conn:  # what a rolled-back insert leaves
        conn.execute("SELECT nextval(pg_get_serial_sequence('ledger_events', 'notification_id'))")
    record_events(ledger, 3, "B")

    sealer.seal()

    with psycopg.connect(settings.database_url) as conn:
        leaves = list(scan.stream_sealed(conn))
    positions = [leaf.position for leaf in leaves]
    assert [leaf.leaf_index for leaf in leaves] == list(range(6))
    assert positions[3] == positions[2] + 2  # the gap is in positions, not in leaf indices


def test_sealing_again_with_nothing_new_signs_nothing_new(
    ledger: Ledger, sealer: Sealer, settings: Settings
) -> None:
    record_events(ledger, 5)
    first = sealer.seal()

    again = sealer.seal()

    assert again.leaves_added == 0 and again.head == first.head
    with psycopg.connect(settings.database_url) as conn:
        assert [s.head.tree_size for s in store.heads(conn)] == [5]


def test_each_batch_signs_a_head_and_every_head_is_kept_and_consistent(
    ledger: Ledger, settings: Settings
) -> None:
    record_events(ledger, 10)
    sealer = make_sealer(settings, batch=4)
    sealer.seal()
    record_events(ledger, 3, "LATE")
    sealer.seal()
    sealer.close()

    with psycopg.connect(settings.database_url) as conn:
        heads = store.heads(conn)
        sizes = [s.head.tree_size for s in heads]
        assert sizes == [4, 8, 10, 13]
        last = heads[-1].head
        for signed in heads[:-1]:
            head = signed.head
            proof, _reads = store.with_nodes(
                conn, lambda read, n=head.tree_size: merkle.consistency_proof(n, 13, read)
            )
            merkle.verify_consistency(head.tree_size, 13, proof, head.root_hash, last.root_hash)
    assert [s.head.timestamp_ms for s in heads] == sorted(s.head.timestamp_ms for s in heads)


class CrashingSigner(LogSigner):
    def sign(self, tree_size: int, root_hash: bytes, timestamp_ms: int):  # type: ignore[no-untyped-def]
        raise RuntimeError("the sealer died before signing")


def test_a_batch_that_fails_midway_leaves_no_trace(
    ledger: Ledger, sealer: Sealer, settings: Settings
) -> None:
    record_events(ledger, 4)
    sealer.seal()
    record_events(ledger, 4, "NEXT")
    signing_key = signer_from_settings(settings)._signing_key
    crashing = Sealer(
        settings.database_url,
        CrashingSigner(settings.log_origin, signing_key),
        discloser_from_settings(settings),
    )

    with pytest.raises(RuntimeError):
        crashing.seal()
    crashing.close()

    with psycopg.connect(settings.database_url) as conn:
        assert store.tip(conn)[0] == 4
        assert conn.execute("SELECT count(*) FROM ledger_log_nodes WHERE level = 0").fetchone() == (
            4,
        )
    assert sealer.seal().head.head.tree_size == 8


def test_two_sealers_at_once_never_interleave(ledger: Ledger, settings: Settings) -> None:
    record_events(ledger, 600)
    sealers = [make_sealer(settings, batch=25) for _ in range(2)]
    errors: list[BaseException] = []

    def run(s: Sealer) -> None:
        try:
            s.seal()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in sealers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for s in sealers:
        s.close()

    assert errors == []
    rows = event_rows(settings)
    with psycopg.connect(settings.database_url) as conn:
        leaves = list(scan.stream_sealed(conn))
        head = store.latest_head(conn)
    assert [leaf.position for leaf in leaves] == [row.position for row in rows]
    assert head is not None
    assert head.head.root_hash == merkle.root_from_leaf_hashes([r.leaf_hash() for r in rows])


def test_the_log_tables_refuse_updates_and_deletes(
    ledger: Ledger, sealer: Sealer, settings: Settings
) -> None:
    record_events(ledger, 2)
    sealer.seal()

    with psycopg.connect(settings.database_url) as conn:
        for statement in (
            "UPDATE ledger_log_nodes SET hash = '\\x00'",
            "DELETE FROM ledger_log_leaves",
            "DELETE FROM ledger_log_tree_heads",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                with conn.transaction():
                    conn.execute(statement)  # type: ignore[arg-type]


def test_ledger_seal_once_prints_the_new_checkpoint(
    ledger: Ledger,
    settings: Settings,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cli.main import main

    record_events(ledger, 3)

    assert main(["seal", "--once"]) == 0
    assert main(["log-key"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("sealed 3 new leaves; tree size 3\nledger.example/log\n3\n")
    assert signer_from_settings(settings).key.verifier_key in out
