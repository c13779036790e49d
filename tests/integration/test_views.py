"""Each view, built by the batched runner from the worked examples of the contract (every
event type, through the real intake), against a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from projections.runner import LogReader, ViewRunner
from projections.timeline import TimelineProjection
from projections.views import all_projections
from tests.support.contract import example_intake, register_example_service, story
from tests.support.views import access, save_all, subject_key

pytestmark = pytest.mark.integration

NINO, ONE_LOGIN = "nino:AB123456C", "one-login:urn:fdc:gov.uk:2022:example-citizen-0001"


def project_all(settings: Settings, ledger: Ledger) -> None:
    with psycopg.connect(settings.database_url) as conn:
        for projection in all_projections():
            projection.create(conn)
            ViewRunner(projection, LogReader(ledger), conn, batch=7).catch_up()


def rows(settings: Settings, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(query, params or None).fetchall()


@pytest.fixture
def the_story(settings: Settings, ledger: Ledger) -> None:
    register_example_service(ledger)
    intake = example_intake(ledger, settings)
    outcome = ledger.record_batch([intake.assess(raw) for _, _, raw in story()])
    assert not outcome.refused
    project_all(settings, ledger)


def test_the_timeline_holds_shares_opt_outs_and_requests_of_the_citizen(
    settings: Settings, the_story: None
) -> None:
    key = subject_key(settings, NINO)
    kinds = rows(
        settings,
        "SELECT kind, detail->>'change' FROM timeline.entries "
        "WHERE subject_key = %s ORDER BY position",
        key,
    )

    assert kinds[0] == ("data-shared", None)
    assert ("objection", "set") in kinds and ("objection", "lifted") in kinds
    assert ("subject-access-request", "received") in kinds
    assert ("subject-access-request", "refused") in kinds


def test_consent_state_per_controller_and_purpose_keeps_its_history(
    settings: Settings, the_story: None
) -> None:
    key = subject_key(settings, ONE_LOGIN)
    found = rows(
        settings,
        "SELECT purpose_code, state, (SELECT array_agg(h.state ORDER BY "
        "h.position) FROM consent.history h WHERE h.originator_id = c.originator_id) "
        "FROM consent.consents c WHERE subject_key = %s ORDER BY purpose_code",
        key,
    )

    assert found == [
        ("research-survey", "withdrawn", ["given", "withdrawn"]),
        ("service-updates", "renewed", ["given", "expired", "renewed"]),
    ]
    assert rows(settings, "SELECT controller, in_force FROM consent.objections") == [("*", False)]


def test_the_register_shows_an_agreement_amended_then_ended(
    settings: Settings, the_story: None
) -> None:
    [(reference, review_on, ended, parties)] = rows(
        settings,
        "SELECT reference, terms->>'review_on', ended_at IS NOT NULL, parties "
        "FROM agreements.agreements",
    )
    changes = rows(settings, "SELECT change FROM agreements.versions ORDER BY position")

    assert (reference, review_on, ended) == ("DSA-DWP-HMRC-2026-001", "2027-05-01", True)
    assert parties == ["DWP", "HMRC"]
    assert [c for (c,) in changes] == ["registered", "amended", "ended"]


class FailsOnThe(TimelineProjection):
    """A timeline whose handler fails on its nth event: a crash mid-batch."""

    def __init__(self, nth: int) -> None:
        super().__init__()
        self.nth, self.seen = nth, 0

    def apply(self, event: Any, position: int, curs: Any) -> None:  # type: ignore[override]
        self.seen += 1
        if self.seen == self.nth:
            raise RuntimeError("the process died here")
        super().apply(event, position, curs)


def test_a_crash_mid_batch_rolls_the_batch_back_and_the_rerun_counts_once(
    settings: Settings, ledger: Ledger
) -> None:
    last = save_all(ledger, [access(f"subject-{i}") for i in range(30)])
    with psycopg.connect(settings.database_url) as conn:
        TimelineProjection().create(conn)
        with pytest.raises(RuntimeError):
            ViewRunner(FailsOnThe(17), LogReader(ledger), conn, batch=10).catch_up()
        # The first batch (10 events) committed; the second died on its 7th: none of it.
        assert rows(settings, "SELECT count(*) FROM timeline.entries") == [(10,)]
        assert rows(settings, "SELECT notification_id FROM timeline.tracking") == [(last - 20,)]

        runner = ViewRunner(TimelineProjection(), LogReader(ledger), conn, batch=10)
        assert runner.catch_up() == 20
        assert runner.catch_up() == 0  # and again: nothing more

    assert rows(settings, "SELECT count(*), count(DISTINCT subject_key) FROM timeline.entries") == [
        (30, 30)
    ]
    assert rows(settings, "SELECT notification_id FROM timeline.tracking") == [(last,)]


def test_views_level_with_each_other_share_reads_and_a_view_far_behind_holds_none_back(
    settings: Settings, ledger: Ledger
) -> None:
    from projections.statistics import StatisticsProjection

    save_all(ledger, [access(f"subject-{i}") for i in range(40)])
    timeline, statistics = TimelineProjection(), StatisticsProjection()
    with psycopg.connect(settings.database_url) as conn:
        for projection in (timeline, statistics):
            projection.create(conn)
        ViewRunner(timeline, LogReader(ledger), conn, batch=10).catch_up()  # statistics: 0
        last = save_all(ledger, [access("subject-new")])

        runner = ViewRunner([timeline, statistics], LogReader(ledger), conn, batch=10)
        runner.run_batch()

        # The timeline took the new event at once; statistics moved one batch of its own.
        assert rows(settings, "SELECT notification_id FROM timeline.tracking") == [(last,)]
        (behind,) = rows(settings, "SELECT notification_id FROM statistics.tracking")
        assert 0 < behind[0] < last - 10
        assert runner.catch_up() > 0
        assert rows(settings, "SELECT notification_id FROM statistics.tracking") == [(last,)]
        assert rows(settings, "SELECT sum(events) FROM statistics.cells") == [(41,)]
    assert rows(settings, "SELECT count(*) FROM timeline.entries") == [(41,)]


def test_views_level_with_each_other_move_in_one_transaction_or_not_at_all(
    settings: Settings, ledger: Ledger
) -> None:
    from projections.statistics import StatisticsProjection

    last = save_all(ledger, [access(f"subject-{i}") for i in range(30)])
    statistics = StatisticsProjection()
    with psycopg.connect(settings.database_url) as conn:
        TimelineProjection().create(conn)
        statistics.create(conn)
        # Statistics is applied first (its handler runs fine), then the timeline dies.
        runner = ViewRunner([statistics, FailsOnThe(17)], LogReader(ledger), conn, batch=10)
        with pytest.raises(RuntimeError):
            runner.catch_up()
        # The second batch moved neither view: statistics' rows went with the timeline's.
        for view in ("timeline", "statistics"):
            assert rows(settings, f"SELECT notification_id FROM {view}.tracking") == [(last - 20,)]
        assert rows(settings, "SELECT sum(events) FROM statistics.cells") == [(10,)]

        runner = ViewRunner([statistics, TimelineProjection()], LogReader(ledger), conn, batch=10)
        assert runner.catch_up() == 20
    assert rows(settings, "SELECT sum(events) FROM statistics.cells") == [(30,)]
    assert rows(settings, "SELECT count(*) FROM timeline.entries") == [(30,)]
    for view in ("timeline", "statistics"):
        assert rows(settings, f"SELECT notification_id FROM {view}.tracking") == [(last,)]
