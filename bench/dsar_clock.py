"""Deadlines computed per second on one core: ``ledger.dsar.clock.deadline`` over a mix of
realistic requests (received 2024-2032, so bundled and computed years; all three
nations; a third with identity awaited, a third paused once or twice, one in ten still
waiting for a clarification, one in five extended), steps in plain English included.
Best of several runs; prints the figure and the target.

    .venv/bin/python bench/dsar_clock.py [--requests 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import report_quiet  # noqa: E402
from ledger.dsar.clock import Pause, Request, deadline  # noqa: E402
from ledger.dsar.holidays import Nation, bundled_calendar  # noqa: E402

TARGET = 50_000  # deadlines a second on one core
TODAY = date(2026, 6, 1)  # an open pause is counted up to this day


def _request(rng: random.Random) -> Request:
    received = date(2024, 1, 1) + timedelta(days=rng.randrange(9 * 365))
    identity = received + timedelta(days=rng.randrange(1, 15)) if rng.random() < 0.3 else None
    pauses: list[Pause] = []
    if rng.random() < 0.35:
        for _ in range(rng.choice((1, 1, 2))):
            asked = received + timedelta(days=rng.randrange(1, 25))
            pauses.append(Pause(asked, asked + timedelta(days=rng.randrange(0, 14))))
    if rng.random() < 0.1:
        pauses.append(Pause(received + timedelta(days=rng.randrange(1, 20))))
    return Request(
        received, identity_verified=identity, pauses=tuple(pauses), extended=rng.random() < 0.2
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core, whatever the machine has
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    report_quiet()
    rng = random.Random(16)
    calendar = bundled_calendar()
    nations = list(Nation)
    cases = []
    for _ in range(args.requests):
        request = _request(rng)
        # An open pause asked after TODAY: count it to the day it was asked instead.
        today = max([TODAY, *(p.asked for p in request.pauses)])
        cases.append((request, rng.choice(nations), today))
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        for request, nation, today in cases:
            deadline(request, nation, calendar, today)
        best = min(best, time.perf_counter() - started)
    rate = len(cases) / best
    provisional = sum(deadline(r, n, calendar, t).provisional for r, n, t in cases)
    print(
        f"dsar clock: {rate:,.0f} deadlines/s on one core ({best / len(cases) * 1e6:.1f} us "
        f"each; best of {args.repeat} runs of {len(cases):,} mixed requests, "
        f"{provisional / len(cases):.0%} due in computed years); target {TARGET:,}/s: "
        f"{'met' if rate >= TARGET else 'SHORT'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
