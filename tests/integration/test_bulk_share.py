"""A bulk share concerning 10,000 citizens (ten parts of 1,000) appears in each of their
timelines, and the statistics count the people once each."""

from __future__ import annotations

import psycopg
import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from projections.runner import LogReader, ViewRunner
from projections.statistics import StatisticsProjection
from projections.timeline import TimelineProjection
from tests.support.views import save_all, share

pytestmark = pytest.mark.integration


def test_a_bulk_share_of_ten_thousand_reaches_every_timeline(settings: Settings) -> None:
    people = [f"subject-{i:05d}" for i in range(10_000)]
    ledger = Ledger.from_settings(settings)
    parts = [
        share(people[i : i + 1000], part={"share": "BULK-1", "index": i // 1000 + 1, "count": 10})
        for i in range(0, 10_000, 1000)
    ]
    save_all(ledger, parts)
    with psycopg.connect(settings.database_url) as conn:
        for projection in (TimelineProjection(), StatisticsProjection()):
            projection.create(conn)
            ViewRunner(projection, LogReader(ledger), conn).catch_up()
        entries = conn.execute(
            "SELECT count(*), count(DISTINCT subject_key) FROM timeline.entries "
            "WHERE kind = 'data-shared'"
        ).fetchone()
        counted = conn.execute("SELECT events, people FROM statistics.cells").fetchone()
        one = conn.execute(
            "SELECT detail->>'recipient' FROM timeline.entries WHERE subject_key = 'subject-09999'"
        ).fetchone()
    ledger.close()

    assert entries == (10_000, 10_000)
    assert counted == (10, 10_000)
    assert one == ("HMRC",)
