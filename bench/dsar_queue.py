"""DSAR officers' queue benchmark: latency of GET /v1/dsar/cases with many open cases.

Runs its own embedded PostgreSQL (or LEDGER_DATABASE_URL) and one `ledger api` process
(one uvicorn worker). Records ``--cases`` subject access requests for one organisation
(and a tenth as many for another) as real aggregates in the ledger, in realistic states
(a third awaiting identity, some paused, some extended, received over three months),
has the case view project them with the real projection, then asks for the queue the
ways an officer does (first page, a state, due before a day, overdue, the next pages)
one request after another, and prints the latency percentiles. The issue's target: p99
under 50 ms with 100,000 open cases.

    python bench/dsar_queue.py --cases 100000 --requests 2000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import report_quiet  # noqa: E402
from bench.rebuild import fresh_database  # noqa: E402
from bench.servers import api_process, database_url, scratch_home  # noqa: E402
from infra.ports import free_port  # noqa: E402
from ledger.application import Ledger  # noqa: E402
from ledger.domain.dsar import SubjectAccessRequest  # noqa: E402
from ledger.domain.registry import Organisation  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from projections.cases import CasesProjection  # noqa: E402
from projections.runner import LogReader, ViewRunner, prepare_views  # noqa: E402
from tests.support.tokens import token  # noqa: E402
from tests.support.views import save_all  # noqa: E402


def seed(settings: Settings, cases: int) -> float:
    """Record the cases; seconds the case view took to project them."""
    ledger = Ledger.from_settings(settings)
    rng = random.Random(16)
    now = datetime.now(UTC)
    save_all(
        ledger,
        [
            Organisation(code="DWP", name="the Department for Work and Pensions"),
            Organisation(code="HMRC", name="HM Revenue and Customs"),
        ],
    )
    batch: list[object] = []
    for i in range(cases + cases // 10):
        received = now - timedelta(days=rng.uniform(0, 90))
        case = SubjectAccessRequest(
            organisation="DWP" if i < cases else "HMRC",
            reference=f"SAR-{i:07d}",
            subject_key=f"subject-{rng.randrange(cases):07d}",
            channel="online",
            requester="subject",
            identity_required=i % 3 == 0,
            at=received,
            submission=None,
        )
        step = received + timedelta(hours=rng.uniform(1, 48))
        if i % 3 == 0 and i % 2 == 0:
            case.verify_identity(step, "passport", None)
        if i % 7 == 0:
            case.request_clarification(step + timedelta(hours=1), None)
        if i % 11 == 0 and i % 3 != 0:
            case.extend(step + timedelta(hours=2), 2, "complex", None)
        batch.append(case)
        if len(batch) == 500:
            save_all(ledger, batch)
            batch = []
    save_all(ledger, batch)
    prepare_views(settings, [CasesProjection()])
    started = time.perf_counter()
    with psycopg.connect(settings.database_url) as conn:
        ViewRunner(CasesProjection(), LogReader(ledger), conn, batch=2000).catch_up()
    ledger.close()
    return time.perf_counter() - started


def get(url: str, officer: str) -> tuple[float, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {officer}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, orjson.loads(body)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    servers = ExitStack()
    home = scratch_home(servers)
    dsn = servers.enter_context(database_url(home))
    try:
        report_quiet()
        settings = fresh_database(dsn, home)
        settings = Settings(
            **{**settings.__dict__, "api_port": free_port(), "log_level": "WARNING"}
        )
        projected = seed(settings, args.cases)
        with psycopg.connect(settings.database_url) as conn:
            open_cases = conn.execute(
                "SELECT count(*) FROM cases.cases WHERE organisation = 'DWP' "
                "AND state <> ALL('{responded,refused,closed}')"
            ).fetchone()
        print(
            f"seeded:  {args.cases:,} DWP cases (+{args.cases // 10:,} HMRC), "
            f"{open_cases[0] if open_cases else 0:,} open; case view projected them in "
            f"{projected:.1f} s ({(args.cases * 1.1) / projected:,.0f} cases/s)"
        )
        base = servers.enter_context(api_process(settings))
        officer = token(settings, "dsar-officer", organisation="DWP")
        soon = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
        queries = [
            {},
            {"state": "in-progress"},
            {"state": "paused"},
            {"due_before": soon},
            {"overdue": "true"},
            {"kind": "request", "limit": "200"},
        ]
        for _ in range(100):  # warm up
            get(f"{base}/v1/dsar/cases", officer)
        latencies: dict[str, list[float]] = {}
        cursor: str | None = None
        for i in range(args.requests):
            params = dict(queries[i % len(queries)])
            name = ",".join(params) or "first page"
            if i % 10 == 9 and cursor:  # an officer paging on
                params, name = {"after": cursor}, "next page"
            took, body = get(f"{base}/v1/dsar/cases?{urllib.parse.urlencode(params)}", officer)
            cursor = body.get("next") if isinstance(body.get("next"), str) else cursor  # type: ignore[assignment]
            latencies.setdefault(name, []).append(took)
        every = sorted(t for ts in latencies.values() for t in ts)
        p = lambda q, xs: xs[min(len(xs) - 1, int(len(xs) * q))]  # noqa: E731
        print(
            f"queue:   {len(every):,} requests one after another: p50 "
            f"{statistics.median(every):.1f} ms, p90 {p(0.90, every):.1f} ms, "
            f"p99 {p(0.99, every):.1f} ms, max {every[-1]:.1f} ms (target: p99 < 50 ms)"
        )
        for name, taken in sorted(latencies.items()):
            taken.sort()
            print(
                f"  {name:<14} p50 {statistics.median(taken):5.1f} ms  p99 {p(0.99, taken):5.1f} ms"
            )
    finally:
        servers.close()


if __name__ == "__main__":
    main()
