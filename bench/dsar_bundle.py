"""Subject access response bundle: a person with 10,000 records in one organisation.

Runs on its own embedded PostgreSQL (or LEDGER_DATABASE_URL). It fills a fresh ledger
the fast honest way the projection bench uses (data-accessed facts saved directly, many
per transaction; the signed intake has benches of its own), with the person's records
interleaved among other people's (``--others``), projects the timeline, seals the log,
then, in a fresh process so that its peak memory is the bundle's alone, times:

1. the search and the bundle (``projections.dsar_search.assemble_bundle``: timeline
   entries, events, leaves, every proof's nodes in one query, disclosable forms,
   openings, sections, digests, the manifest signed, the canonical JSON);
2. the HTML page and the PDF;

and prints seconds, the bundle's size, the peak RSS of that process (``resource``) and
its RSS before it started, and the offline check's time. Target: under 3 s for JSON +
HTML + PDF with proofs. Nothing is asserted.

    .venv/bin/python bench/dsar_bundle.py                       # 10,000 records, 40,000 others
    .venv/bin/python bench/dsar_bundle.py --records 10000 --others 200000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import report_quiet  # noqa: E402
from bench.servers import database_url, scratch_home  # noqa: E402
from ledger.settings import Settings  # noqa: E402

SECRET = "5a" * 32
PERSON = "nhs-number:9434765919"


def _settings(url: str, home: Path) -> Settings:
    return Settings(home=home, database_url=url, secret=SECRET)


def fill(settings: Settings, records: int, others: int) -> str:
    """The person's ``records`` DWP accesses among ``others`` of other people's; their
    subject key."""
    from ledger.application import Ledger
    from ledger.domain.access import DataAccess
    from tests.support.views import save_all, subject_key

    person = subject_key(settings, PERSON)
    total = records + others
    every = max(1, total // max(records, 1))
    start = datetime.now(UTC) - timedelta(days=300)
    facts: list[DataAccess] = []
    mine = 0
    for n in range(total):
        ours = mine < records and n % every == 0
        mine += ours
        facts.append(
            DataAccess(
                source="urn:ledger:service:dwp:bench",
                event_id=uuid.uuid4().hex,
                occurred_at=start + timedelta(minutes=n),
                subject_keys=[person if ours else f"someone-{n % 5000:05d}"],
                organisation="DWP",
                role="Work coach",
                official_key=f"official-{n % 40}",  # withheld in the bundle by default
                system="Universal Credit case system",
                record="benefit claim",
                data_categories=[{"code": "benefits", "text": "your benefit claim details"}],
                purpose={"code": f"uc-{n % 3}", "text": "to process your Universal Credit claim"},
                lawful_basis={"article6": "public-task", "article9": None},
                action="viewed",
                break_glass=False,
                envelope_sha256="0" * 64,
                envelope_sealed="",
            )
        )
    ledger = Ledger.from_settings(settings)
    try:
        started = time.perf_counter()
        save_all(ledger, facts)
        print(
            f"ledger filled:   {total:>9,} events ({records:,} of the person's) in "
            f"{time.perf_counter() - started:.1f} s"
        )
    finally:
        ledger.close()
    return person


def project_and_seal(settings: Settings) -> None:
    from ledger.application import Ledger
    from ledger.transparency.sealer import Sealer
    from projections.runner import LogReader, ViewRunner
    from projections.timeline import TimelineProjection

    started = time.perf_counter()
    ledger = Ledger.from_settings(settings)
    with psycopg.connect(settings.database_url) as conn:
        projection = TimelineProjection()
        projection.create(conn)
        ViewRunner(projection, LogReader(ledger), conn).catch_up()
    ledger.close()
    sealer = Sealer.from_settings(settings)
    sealed = sealer.seal()
    sealer.close()
    print(
        f"projected and sealed (tree size {sealed.head.head.tree_size:,}) in "
        f"{time.perf_counter() - started:.1f} s"
    )


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(url: str, home: Path, person: str) -> None:
    """In a fresh process: assemble, render, check; print the figures."""
    from ledger.dsar.bundle import Case, Controller, verify_bundle
    from ledger.keyring import Keyring
    from ledger.transparency.reader import LogReader
    from ledger.transparency.sealer import signer_from_settings
    from projections.dsar_search import assemble_bundle

    settings = _settings(url, home)
    keyring, signer = Keyring.from_settings(settings), signer_from_settings(settings)
    log = LogReader.from_settings(settings)
    before = rss_mib()
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        bundle = assemble_bundle(
            conn,
            log,
            keyring,
            signer,
            organisation=Controller("DWP", "the Department for Work and Pensions"),
            case=Case("SAR-BENCH-1", date.today()),
            subject_key=person,
        )
        assembled = time.perf_counter()
        page = bundle.html()
        paged = time.perf_counter()
        pdf = bundle.pdf()
        done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log.close()
    records = bundle.records
    print(f"bundle:          {records:,} records, {len(bundle.json_bytes) / 2**20:.1f} MiB JSON")
    print(f"  search + bundle (proofs, signed manifest, JSON): {assembled - started:.2f} s")
    print(f"  HTML page, {len(page) / 2**20:.1f} MiB:  {paged - assembled:.2f} s")
    print(f"  PDF, {len(pdf) / 2**20:.1f} MiB:         {done - paged:.2f} s")
    print(f"  JSON + HTML + PDF with proofs: {done - started:.2f} s (target < 3 s)")
    print(f"  RSS before: {before:.0f} MiB; peak RSS: {peak:.0f} MiB")
    started = time.perf_counter()
    report = verify_bundle(json.loads(bundle.json_bytes), signer.key)
    verdict = "OK" if report.ok else "FAILED"
    print(f"offline check:   {time.perf_counter() - started:.2f} s ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000, help="the person's records")
    parser.add_argument("--others", type=int, default=40_000, help="other people's records")
    parser.add_argument(
        "--measure", nargs=3, metavar=("URL", "HOME", "SUBJECT_KEY"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        url, home, person = args.measure
        measure(url, Path(home), person)
        return
    servers = ExitStack()
    home = scratch_home(servers)
    dsn = servers.enter_context(database_url(home))
    try:
        report_quiet()
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = dsn.rsplit("/", 1)[0] + "/" + name
        settings = _settings(url, home)
        person = fill(settings, args.records, args.others)
        project_and_seal(settings)
        subprocess.run([sys.executable, __file__, "--measure", url, str(home), person], check=True)
    finally:
        servers.close()


if __name__ == "__main__":
    main()
