"""Citizen portal timeline benchmark: "Who has used your data" (GET /your-data) for a
citizen with 10,000 entries, in a timeline view of 10,000,000 rows, at 50 requests/s.

Runs its own embedded PostgreSQL (or LEDGER_DATABASE_URL) and one `ledger api` process
(one uvicorn worker, development mode). The view is loaded in bulk, not projected: the
real projection writes one entry of each kind (accesses and shares by five
organisations, a consent, a subject access request) for a throwaway subject, and those
rows are the templates ``COPY`` repeats ``--rows`` times in ledger order, spread over
``--years``, among ``--subjects`` synthetic pseudonyms; one row in every
``rows / entries`` is the demo citizen Alex's (their real pseudonym under the bench's
secret, so the portal's development sign-in reaches them). The primary key is dropped for
the load and built after it, then the table is vacuumed and analysed (as autovacuum
would do soon after such a load, and would otherwise do during the measurement).

Then it signs in as Alex through the portal (the sign-in page's CSRF token, then
POST /sign-in), walks the whole timeline by its "Older entries" links (every entry once),
and offers three kinds of page at a steady ``--rate`` (open loop) for ``--duration``
seconds: the first page; deep pages (the older half of the walk's pages); and filtered
pages (an organisation; a kind; an organisation, a kind and a year's dates). It prints
p50/p95/p99/max of each, against the target (p99 under 100 ms), and, as the baseline,
the same pages' query alone (``ViewReader.timeline``, the query and parameters the page
runs, on psycopg, one after another): the ratio of the page to its query is what the
portal's HTTP, session and rendering cost. Nothing is asserted.

    .venv/bin/python bench/portal_timeline.py          # 10,000,000 rows, 50/s for 30 s
    .venv/bin/python bench/portal_timeline.py --rows 200000 --entries 2000 --duration 5

A full-size run needs about 8 GB of disk in the temporary directory for the view, and
removes it when it ends (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import http.client
import random
import re
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.timeline_entries import parse_cursor, range_end, range_start  # noqa: E402
from bench.machine import report_quiet  # noqa: E402
from bench.open_loop import offer  # noqa: E402
from bench.rebuild import fresh_database  # noqa: E402
from bench.servers import api_process, database_url, scratch_home  # noqa: E402
from infra.ports import free_port  # noqa: E402
from ledger.application import Ledger  # noqa: E402
from ledger.domain.consent import Consent  # noqa: E402
from ledger.domain.dsar import SubjectAccessRequest  # noqa: E402
from ledger.domain.registry import Organisation  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from portal.development import CITIZENS  # noqa: E402
from portal.routes.your_data import PAGE_SIZE  # noqa: E402
from portal.security import cookie_name  # noqa: E402
from projections.reading import TimelineFilter, ViewReader  # noqa: E402
from projections.runner import LogReader, ViewRunner, prepare_views  # noqa: E402
from projections.timeline import ENTRY_COLUMNS, TimelineProjection  # noqa: E402
from tests.support.views import access, save_all, share, subject_key  # noqa: E402

CITIZEN = "Alex"
TARGET_MS = 100.0
TEMPLATE_SUBJECT = "bench-template"
ORGANISATIONS = {
    "DWP": "the Department for Work and Pensions",
    "HMRC": "HM Revenue and Customs",
    "NHSE": "NHS England",
    "LEEDS": "Leeds City Council",
    "HO": "the Home Office",
}


def template_facts(at: datetime) -> list[tuple[int, object]]:
    """One fact of each kind of entry, and how many in a hundred entries are like it."""
    key = TEMPLATE_SUBJECT
    return [
        (30, access(key, organisation="DWP", at=at)),
        (15, access(key, organisation="HMRC", at=at, purpose_code="tax")),
        (19, access(key, organisation="NHSE", at=at, purpose_code="care")),
        (1, access(key, organisation="NHSE", at=at, purpose_code="care", break_glass=True)),
        (8, access(key, organisation="LEEDS", at=at, purpose_code="council-tax")),
        (4, access(key, organisation="HO", at=at, purpose_code="immigration")),
        (10, share([key], sender="DWP", recipient="HMRC", at=at)),
        (5, share([key], sender="HMRC", recipient="DWP", purpose_code="tax-credits", at=at)),
        (3, share([key], sender="NHSE", recipient="LEEDS", purpose_code="social-care", at=at)),
        (
            3,
            Consent(
                subject_key=key,
                controller="NHSE",
                purpose={"code": "research", "text": "research and planning"},
                terms={},
                at=at,
                expires_at=None,
                submission=None,
            ),
        ),
        (
            2,
            SubjectAccessRequest(
                organisation="DWP",
                reference="SAR-BENCH",
                subject_key=key,
                channel="online",
                requester="subject",
                identity_required=False,
                at=at,
                submission=None,
            ),
        ),
    ]


@dataclass(frozen=True)
class Template:
    """A row of the view as the real projection wrote it, less whose and when."""

    weight: int
    kind: str
    organisation: str
    detail: str  # jsonb, as COPY's text format reads it


def templates(settings: Settings) -> tuple[list[Template], int]:
    """The organisations registered and one entry of each kind, projected by the real
    timeline projection (then taken out of the view); and the log's last position."""
    ledger = Ledger.from_settings(settings)
    facts = template_facts(datetime.now(UTC) - timedelta(days=1))
    try:
        save_all(ledger, [Organisation(code=c, name=n) for c, n in ORGANISATIONS.items()])
        last = save_all(ledger, [fact for _, fact in facts])
        prepare_views(settings)  # every view, as the API finds them
        with psycopg.connect(settings.database_url) as conn:
            ViewRunner(TimelineProjection(), LogReader(ledger), conn).catch_up()
            rows = conn.execute(
                "DELETE FROM timeline.entries WHERE subject_key = %s "
                "RETURNING position, kind, organisation, detail::text",
                (TEMPLATE_SUBJECT,),
            ).fetchall()
    finally:
        ledger.close()
    rows.sort()
    assert len(rows) == len(facts), f"expected one entry a fact, found {len(rows)}"
    escape = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})
    return [
        Template(weight, kind, organisation, detail.translate(escape))
        for (weight, _), (_, kind, organisation, detail) in zip(facts, rows, strict=True)
    ], last


@dataclass
class Plan:
    """What to load: ``rows`` in ledger order, one in every ``rows / entries`` the
    citizen's, the rest among ``subjects`` others, over ``years`` up to now."""

    rows: int
    entries: int
    subjects: int
    years: float
    citizen: str
    first_position: int
    seed: int = 10
    started: float = field(default_factory=time.time)


def blocks(plan: Plan, kinds: list[Template], size: int = 10_000) -> Iterator[bytes]:
    """The rows of the view in ``COPY`` text format, ``size`` rows a block."""
    rng = random.Random(plan.seed)
    others = [hashlib.sha256(f"someone-{i}".encode()).hexdigest() for i in range(plan.subjects)]
    weights = [t.weight for t in kinds]
    every = plan.rows / max(plan.entries, 1)
    span = plan.years * 365.25 * 86400
    start = plan.started - span
    step = span / plan.rows
    next_mine, mine = 0.0, 0
    for first in range(0, plan.rows, size):
        count = min(size, plan.rows - first)
        chosen = rng.choices(kinds, weights, k=count)
        whose = rng.choices(others, k=count)
        lines = []
        for i in range(count):
            n = first + i
            if n >= next_mine and mine < plan.entries:
                key, next_mine, mine = plan.citizen, next_mine + every, mine + 1
            else:
                key = whose[i]
            t = start + n * step
            occurred = datetime.fromtimestamp(t, UTC).isoformat()
            recorded = datetime.fromtimestamp(t + 2.5, UTC).isoformat()
            row = chosen[i]
            lines.append(
                f"{key}\t{plan.first_position + n}\t{row.kind}\t{occurred}\t{recorded}\t"
                f"{row.organisation}\t{row.detail}\t0\n"  # slot 0: one subject
            )
        yield "".join(lines).encode()


@dataclass(frozen=True)
class Loaded:
    seconds: float
    index_seconds: float
    vacuum_seconds: float
    table_bytes: int
    index_bytes: int


def load(settings: Settings, plan: Plan, kinds: list[Template]) -> Loaded:
    """COPY the plan's rows into the timeline view, then its primary key, then VACUUM
    (ANALYZE). Prints progress every tenth."""
    with psycopg.connect(settings.database_url) as conn:
        key = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'timeline.entries'::regclass AND contype = 'p'"
        ).fetchone()
        assert key is not None, "the timeline view has no primary key"
        name, definition = key
        conn.execute("SET synchronous_commit = off")
        conn.execute(f'ALTER TABLE timeline.entries DROP CONSTRAINT "{name}"')
        started = time.perf_counter()
        shown = 0
        columns = ", ".join(ENTRY_COLUMNS)
        with conn.cursor().copy(f"COPY timeline.entries ({columns}) FROM STDIN") as copy:
            done = 0
            for block in blocks(plan, kinds):
                copy.write(block)
                done += block.count(b"\n")
                if done * 10 // plan.rows > shown:
                    shown = done * 10 // plan.rows
                    took = time.perf_counter() - started
                    print(
                        f"  loaded {done:>11,} of {plan.rows:,} rows ({shown * 10}%), "
                        f"{done / took:,.0f} rows/s",
                        flush=True,
                    )
        conn.commit()
        loaded = time.perf_counter() - started
        conn.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        conn.execute(f'ALTER TABLE timeline.entries ADD CONSTRAINT "{name}" {definition}')
        conn.commit()
        indexed = time.perf_counter() - started
        conn.autocommit = True
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) timeline.entries")
        vacuumed = time.perf_counter() - started
        sizes = conn.execute(
            "SELECT pg_table_size('timeline.entries'), pg_indexes_size('timeline.entries')"
        ).fetchone()
        assert sizes is not None
    return Loaded(loaded, indexed, vacuumed, *sizes)


@dataclass(frozen=True)
class Filter:
    """A filter a citizen applies on the page, as its query string and as the reader's."""

    name: str
    organisation: str | None = None
    kinds: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    def query(self) -> str:
        fields: list[tuple[str, str]] = [("organisation", self.organisation or "")]
        fields += [("kind", k) for k in self.kinds]
        for prefix, day in (("from", self.since), ("to", self.until)):
            if day:
                fields += [
                    (f"{prefix}-day", str(day.day)),
                    (f"{prefix}-month", str(day.month)),
                    (f"{prefix}-year", str(day.year)),
                ]
        return urlencode(fields)

    def where(self) -> TimelineFilter:
        return TimelineFilter(
            self.organisation, self.kinds, range_start(self.since), range_end(self.until)
        )


def filters(today: date) -> list[Filter]:
    return [
        Filter("an organisation", organisation="HO"),
        Filter("a kind", kinds=("consent",)),
        Filter(
            "organisation, kind, a year",
            organisation="NHSE",
            kinds=("data-accessed",),
            since=today.replace(year=today.year - 3),
            until=today.replace(year=today.year - 2),
        ),
    ]


class Portal:
    """The portal, as one signed-in citizen's browser without JavaScript."""

    def __init__(self, port: int, settings: Settings) -> None:
        self.port = port
        self.cookie_name = cookie_name(settings)
        self.cookie = ""

    def get(self, path: str) -> tuple[int, str]:
        return self._send("GET", path)

    def _send(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": f"{self.cookie_name}={self.cookie}"} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie" and value.startswith(self.cookie_name + "="):
                    self.cookie = value.split(";", 1)[0].split("=", 1)[1]
            return response.status, text
        finally:
            connection.close()

    def sign_in(self, citizen: str) -> None:
        """The development sign-in, as its form posts it."""
        status, page = self.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert status == 200 and token, f"the sign-in page answered {status} without a form"
        form = urlencode({"citizen": citizen, "csrf_token": html.unescape(token[1])})
        status, _ = self._send("POST", "/sign-in", form)
        assert status == 303, f"signing in answered {status}"

    def request(self, path: str) -> bytes:
        """``path`` as raw HTTP/1.1 bytes (keep-alive), with the session cookie."""
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Cookie: {self.cookie_name}={self.cookie}\r\n\r\n"
        ).encode()


def entries_on(page: str) -> int:
    return page.count('class="moj-timeline__item"')


def older_link(page: str) -> str | None:
    found = re.search(r'<a[^>]*href="([^"]+)"[^>]*rel="next"', page)
    return html.unescape(found[1]) if found else None


def walk(portal: Portal) -> tuple[list[str], int, float]:
    """Every page of the timeline, newest first, by its "Older entries" links: their
    paths, the entries seen, and seconds taken (one request after another)."""
    paths, seen = ["/your-data"], 0
    started = time.perf_counter()
    while True:
        status, page = portal.get(paths[-1])
        assert status == 200, f"{paths[-1]} answered {status}"
        seen += entries_on(page)
        older = older_link(page)
        if older is None:
            return paths, seen, time.perf_counter() - started
        paths.append(older)


@dataclass(frozen=True)
class Case:
    """One page offered: its kind, its path, and the reader's call its query makes."""

    kind: str
    path: str
    after: tuple[datetime, int] | None
    where: TimelineFilter


def cases(deep_paths: Sequence[str], chosen: Sequence[Filter]) -> list[Case]:
    """First page, a deep page and a filtered page in turn, the deep and filtered ones
    each in turn too."""
    deep = [
        Case(
            "deep page",
            path,
            parse_cursor(parse_qs(urlsplit(path).query)["after"][0]),
            TimelineFilter(),
        )
        for path in deep_paths
    ]
    filtered = [Case("filtered page", f"/your-data?{f.query()}", None, f.where()) for f in chosen]
    first = Case("first page", "/your-data", None, TimelineFilter())
    rounds = max(len(deep), len(filtered))
    return [
        c for i in range(rounds) for c in (first, deep[i % len(deep)], filtered[i % len(filtered)])
    ]


async def query_alone(
    settings: Settings, key: str, offered: list[Case], times: int
) -> dict[str, list[float]]:
    """Milliseconds each kind of page's query takes on its own, through the reader the
    API uses, on one connection, one after another."""
    pool = AsyncConnectionPool(settings.database_url, min_size=1, max_size=1, open=False)
    await pool.open(wait=True)
    reader = ViewReader(pool)
    found: dict[str, list[float]] = {}
    try:
        for i in range(times):
            case = offered[i % len(offered)]
            started = time.perf_counter()
            await reader.timeline([key], limit=PAGE_SIZE, after=case.after, where=case.where)
            found.setdefault(case.kind, []).append((time.perf_counter() - started) * 1000)
    finally:
        await pool.close()
    return found


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * q))]


def figures(ms: list[float]) -> str:
    ms = sorted(ms)
    return (
        f"p50 {statistics.median(ms):6.1f} ms  p95 {percentile(ms, 0.95):6.1f} ms  "
        f"p99 {percentile(ms, 0.99):6.1f} ms  max {ms[-1]:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=10_000_000,
        help="rows in the timeline view (default: %(default)s)",
    )
    parser.add_argument(
        "--entries", type=int, default=10_000, help="of which the citizen's (default: %(default)s)"
    )
    parser.add_argument(
        "--subjects",
        type=int,
        default=1_000_000,
        help="other citizens the rest are spread among (default: %(default)s)",
    )
    parser.add_argument(
        "--years",
        type=float,
        default=6,
        help="years the entries span, up to now (default: %(default)s)",
    )
    parser.add_argument(
        "--rate", type=float, default=50, help="pages offered a second (default: %(default)s)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=30,
        help="seconds pages are offered for (default: %(default)s)",
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=600,
        help="queries timed alone for the baseline (default: %(default)s)",
    )
    args = parser.parse_args()
    if not 0 < args.entries <= args.rows:
        parser.error("--entries must be between 1 and --rows")
    servers = ExitStack()
    home = scratch_home(servers)
    dsn = servers.enter_context(database_url(home))
    try:
        report_quiet()
        settings = fresh_database(dsn, home)
        settings = Settings(
            **{**settings.__dict__, "api_port": free_port(), "log_level": "WARNING"}
        )
        kinds, last = templates(settings)
        citizen = subject_key(settings, CITIZENS[CITIZEN])
        plan = Plan(args.rows, args.entries, args.subjects, args.years, citizen, last + 1)
        print(
            f"loading: {args.rows:,} rows, {args.entries:,} of them {CITIZEN}'s, the rest "
            f"among {args.subjects:,} others, over {args.years:g} years (COPY, text format)"
        )
        loaded = load(settings, plan, kinds)
        print(
            f"loaded:  {args.rows:,} rows in {loaded.seconds:.1f} s "
            f"({args.rows / loaded.seconds:,.0f} rows/s); primary key built in "
            f"{loaded.index_seconds:.1f} s; VACUUM (ANALYZE) {loaded.vacuum_seconds:.1f} s; "
            f"table {loaded.table_bytes / 2**30:.2f} GiB, "
            f"index {loaded.index_bytes / 2**30:.2f} GiB"
        )
        servers.enter_context(api_process(settings))
        portal = Portal(settings.api_port, settings)
        portal.sign_in(CITIZEN)
        paths, seen, took = walk(portal)
        print(
            f"walked:  {CITIZEN}'s timeline by its 'Older entries' links: {len(paths):,} pages, "
            f"{seen:,} entries (of {args.entries:,}) in {took:.1f} s, "
            f"{took / len(paths) * 1000:.1f} ms a page one after another"
        )
        chosen = filters(date.today())
        shown = [entries_on(portal.get(f"/your-data?{f.query()}")[1]) for f in chosen]
        print(
            "filters: "
            + "; ".join(f"{f.name}: {n} entries shown" for f, n in zip(chosen, shown, strict=True))
        )
        offered = cases(paths[len(paths) // 2 :], chosen)
        requests = [portal.request(c.path) for c in offered]
        answers = asyncio.run(
            offer(settings.api_port, requests, args.rate, args.duration, warm_up=100)
        )
        by_kind: dict[str, list[float]] = {}
        errors: dict[str, int] = {}
        for answer in answers:
            kind = offered[answer.request].kind
            by_kind.setdefault(kind, []).append(answer.milliseconds)
            errors[kind] = errors.get(kind, 0) + (answer.status != 200)
        alone = asyncio.run(query_alone(settings, citizen, offered, args.baseline))
        every = [ms for taken in by_kind.values() for ms in taken]
        print(
            f"pages:   {len(every):,} offered at {args.rate:g}/s for {args.duration:g} s "
            f"(open loop), {sum(errors.values())} not 200"
        )
        for kind in ("first page", "deep page", "filtered page"):
            taken = sorted(by_kind[kind])
            query = sorted(alone[kind])
            met = "met" if percentile(taken, 0.99) < TARGET_MS else "NOT met"
            print(f"  {kind:<14} page  {figures(taken)}   p99 < {TARGET_MS:g} ms: {met}")
            print(
                f"  {'':<14} query {figures(query)}   page/query at p50: "
                f"{statistics.median(taken) / statistics.median(query):.1f}x"
            )
        met = "met" if percentile(sorted(every), 0.99) < TARGET_MS else "NOT met"
        print(f"  {'every page':<14} page  {figures(every)}   p99 < {TARGET_MS:g} ms: {met}")
    finally:
        servers.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the servers have stopped and the run's data is gone
        sys.exit(130)
