"""Consent decision benchmark: p99 latency of POST /v1/decisions/share at a fixed offered
rate (open loop: requests are sent on schedule, whether or not earlier ones answered).

Runs its own embedded PostgreSQL (or LEDGER_DATABASE_URL) and one `ledger api` process
(one uvicorn worker), seeds an agreement and consents for many citizens, and prints the
latency percentiles. The issue's target: p99 under 10 ms at 500 requests/s.

    python bench/decisions.py --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import report_quiet  # noqa: E402
from bench.open_loop import offer  # noqa: E402
from bench.rebuild import fresh_database  # noqa: E402
from bench.servers import api_process, database_url, scratch_home  # noqa: E402
from infra.ports import free_port  # noqa: E402
from ledger.application import Ledger  # noqa: E402
from ledger.domain.agreement import DataSharingAgreement  # noqa: E402
from ledger.domain.consent import Consent  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from projections.runner import LogReader, ViewRunner, prepare_views  # noqa: E402
from projections.views import all_projections  # noqa: E402
from tests.support.stream import nhs_numbers  # noqa: E402
from tests.support.tokens import token  # noqa: E402
from tests.support.views import agreement_terms, save_all, subject_key  # noqa: E402


def seed(settings: Settings, people: list[str]) -> None:
    ledger = Ledger.from_settings(settings)
    at = datetime.now(UTC) - timedelta(days=7)
    agreement = DataSharingAgreement(
        reference="DSA-C", terms=agreement_terms("consent", ("research",)), at=at, submission=None
    )
    consents = [
        Consent(
            subject_key=subject_key(settings, f"nhs-number:{n}"),
            controller="DWP",
            purpose={"code": "research", "text": "research"},
            terms={},
            at=at,
            expires_at=None,
            submission=None,
        )
        for n in people[::2]  # half the people consented
    ]
    save_all(ledger, [agreement, *consents])
    prepare_views(settings)
    with psycopg.connect(settings.database_url) as conn:
        for projection in all_projections():
            ViewRunner(projection, LogReader(ledger), conn, batch=2000).catch_up()
    ledger.close()


def request_bytes(host: str, token: str, subject: str) -> bytes:
    body = orjson.dumps(
        {
            "sender": "DWP",
            "recipient": "HMRC",
            "subject": f"nhs-number:{subject}",
            "purpose": "research",
            "categories": ["income"],
        }
    )
    head = (
        f"POST /v1/decisions/share HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def decide(url: str, token: str, subject: str) -> bool:
    request = urllib.request.Request(
        url + "/v1/decisions/share",
        data=orjson.dumps(
            {
                "sender": "DWP",
                "recipient": "HMRC",
                "subject": f"nhs-number:{subject}",
                "purpose": "research",
                "categories": ["income"],
            }
        ),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bool(orjson.loads(response.read())["allowed"])


def withdrawal_latency(
    settings: Settings, url: str, token: str, people: list[str], samples: int
) -> list[float]:
    """Seconds from a consent withdrawal's commit until the decision says no, with the
    real projection runner (`ledger project`) keeping the views."""
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    projector = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "project"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ledger = Ledger.from_settings(settings)
    found: list[float] = []
    try:
        time.sleep(2)  # the runner starts and finds its views caught up
        for person in people[: 2 * samples : 2]:  # people who consented
            assert decide(url, token, person), "a consenting person should be allowed"
            key = subject_key(settings, f"nhs-number:{person}")
            consent: Consent = ledger.repository.get(
                Consent.create_id(key, "DWP", {"code": "research"})
            )
            consent.withdraw(datetime.now(UTC), None)
            ledger.save(consent)
            committed = time.perf_counter()
            while decide(url, token, person):
                time.sleep(0.005)
            found.append(time.perf_counter() - committed)
    finally:
        ledger.close()
        projector.terminate()
        projector.wait(timeout=20)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--withdrawals", type=int, default=20)
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
        people = nhs_numbers(args.people)
        seed(settings, people)
        url = servers.enter_context(api_process(settings))
        service = token(settings, "service", organisation="DWP")
        host = f"127.0.0.1:{settings.api_port}"
        requests = [request_bytes(host, service, n) for n in people]
        answers = asyncio.run(offer(settings.api_port, requests, args.rate, args.seconds))
        latencies = sorted(a.milliseconds for a in answers)
        errors = sum(a.status != 200 for a in answers)
        p = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))]  # noqa: E731
        print(
            f"decisions: {len(latencies):,} requests offered at {args.rate}/s "
            f"for {args.seconds:g} s, {errors} errors"
        )
        print(
            f"latency:   p50 {statistics.median(latencies):.1f} ms, p90 {p(0.90):.1f} ms, "
            f"p99 {p(0.99):.1f} ms, max {latencies[-1]:.1f} ms"
        )
        withdrawals = withdrawal_latency(settings, url, service, people, args.withdrawals)
        print(
            f"withdrawal -> decision says no: median {statistics.median(withdrawals) * 1000:.0f}"
            f" ms, max {max(withdrawals) * 1000:.0f} ms over {len(withdrawals)} withdrawals"
            " (target: within 1 s)"
        )
    finally:
        servers.close()


if __name__ == "__main__":
    main()
