"""Proofs from stored nodes at 1,000,000 leaves: time per proof and nodes read.

Builds an N-leaf tree in PostgreSQL the way the sealer stores it (every complete node
once, COPY-ed in binary), signs one tree head, then produces inclusion and consistency
proofs through ``store.with_nodes`` (the path the API uses: one round trip for the
O(log n) nodes a proof needs), verifies each, and prints the medians. A naive baseline
reads every leaf hash and recomputes. Prints figures only; nothing here is asserted.

    .venv/bin/python bench/proofs.py                  # embedded PostgreSQL, 1,000,000 leaves
    LEDGER_DATABASE_URL=postgresql://... .venv/bin/python bench/proofs.py --leaves 200000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import nacl.signing
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.servers import database_url  # noqa: E402
from ledger import merkle  # noqa: E402
from ledger.transparency import store  # noqa: E402
from ledger.transparency.checkpoint import LogSigner  # noqa: E402

DATABASE = "bench_proofs"


def build(conn: psycopg.Connection, leaves: int) -> merkle.MerkleFrontier:
    started = time.perf_counter()
    frontier = merkle.MerkleFrontier()
    rows = 0
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(
            "COPY ledger_log_nodes (level, node_index, hash) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int2", "int8", "bytea"])
            for i in range(leaves):
                leaf = merkle.leaf_hash(i.to_bytes(8, "big"))
                for node in frontier.append(leaf):
                    copy.write_row((node.level, node.index, node.hash))
                    rows += 1
        signer = LogSigner("bench.example/log", nacl.signing.SigningKey(bytes(32)))
        store.insert_head(
            conn, signer.sign(frontier.size, frontier.root(), int(time.time() * 1000))
        )
    print(
        f"built {leaves:,} leaves: {rows:,} node rows COPY-ed "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return frontier


def median_ms(samples: list[float]) -> str:
    p95 = sorted(samples)[int(len(samples) * 0.95)]
    return f"median {statistics.median(samples) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def _inclusion(index: int, size: int, read: merkle.NodeReader) -> list[bytes]:
    return merkle.inclusion_proof(index, size, read)


def _consistency(first: int, size: int, read: merkle.NodeReader) -> list[bytes]:
    return merkle.consistency_proof(first, size, read)


def bench(conn: psycopg.Connection, size: int, root: bytes, count: int) -> None:
    rng = random.Random(9162)
    times, reads = [], []
    for _ in range(count):
        index = rng.randrange(size)
        started = time.perf_counter()
        proof, n = store.with_nodes(conn, partial(_inclusion, index, size))
        times.append(time.perf_counter() - started)
        reads.append(n)
        merkle.verify_inclusion(
            index, size, merkle.leaf_hash(index.to_bytes(8, "big")), proof, root
        )
    print(
        f"inclusion   ({count} random leaves of {size:,}): {median_ms(times)}; "
        f"nodes read median {statistics.median(reads):.0f}, max {max(reads)}"
    )
    times, reads = [], []
    for _ in range(count):
        first = rng.randrange(1, size)
        started = time.perf_counter()
        proof, n = store.with_nodes(conn, partial(_consistency, first, size))
        times.append(time.perf_counter() - started)
        reads.append(n)
        old, _ = store.with_nodes(conn, partial(merkle.MerkleFrontier.from_nodes, first))
        merkle.verify_consistency(first, size, proof, old.root(), root)
    print(
        f"consistency ({count} random sizes -> {size:,}):  {median_ms(times)}; "
        f"nodes read median {statistics.median(reads):.0f}, max {max(reads)}"
    )


def naive(conn: psycopg.Connection, size: int) -> None:
    # Without stored interior nodes: read every leaf hash, rebuild what the proof needs.
    started = time.perf_counter()
    leaves = [
        bytes(r[0])
        for r in conn.execute(
            "SELECT hash FROM ledger_log_nodes WHERE level = 0 ORDER BY node_index"
        )
    ]
    reading = time.perf_counter() - started

    def node(level: int, index: int) -> bytes:
        return merkle.root_from_leaf_hashes(leaves[index << level : (index + 1) << level])

    merkle.inclusion_proof(size // 3, size, node)
    print(
        f"naive baseline (read all {len(leaves):,} leaves, recompute): "
        f"{(time.perf_counter() - started) * 1000:.0f} ms per proof "
        f"({reading * 1000:.0f} ms of it reading), {len(leaves):,} rows read"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        servers = ExitStack()
        url = servers.enter_context(database_url(Path(home)))
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(DATABASE)
                    )
                )
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
            info = conninfo_to_dict(url)
            info["dbname"] = DATABASE
            with psycopg.connect(make_conninfo(**info), autocommit=True) as conn:  # type: ignore[arg-type]
                store.create_tables(conn)
                frontier = build(conn, args.leaves)
                bench(conn, frontier.size, frontier.root(), args.proofs)
                naive(conn, frontier.size)
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(DATABASE))
                )
        finally:
            servers.close()


if __name__ == "__main__":
    main()
