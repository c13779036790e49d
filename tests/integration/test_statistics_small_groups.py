"""Transparency statistics count each person once per cell and never publish a small
group: not by its own figures, nor by what the other figures of its organisation's month
leave over."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cli.main import main
from ledger.application import Ledger
from ledger.settings import Settings
from projections.rebuild import rebuild
from projections.runner import LogReader, ViewRunner, prepare_views
from projections.statistics import StatisticsProjection
from tests.support.tokens import bearer
from tests.support.views import access, save_all, share

pytestmark = pytest.mark.integration


def project(settings: Settings, ledger: Ledger, batch: int = 2000) -> int:
    """Bring the statistics view up to the ledger's head, ``batch`` events at a time."""
    with psycopg.connect(settings.database_url) as conn:
        projection = StatisticsProjection()
        projection.create(conn)
        ViewRunner(projection, LogReader(ledger), conn, batch=batch).catch_up()
    return int(ledger.recorder.max_notification_id() or 0)


def published(settings: Settings, position: int) -> dict[str, dict[str, Any]]:
    """The cells an auditor is shown, by purpose code."""
    with TestClient(create_app(settings), headers=bearer(settings, "auditor")) as api:
        response = api.get("/v1/statistics", params={"position": position})
    assert response.status_code == 200, response.text
    return {cell["purpose"]["code"]: cell for cell in response.json()["cells"]}


def stored(settings: Settings) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            "SELECT month, kind, organisation, gateway, purpose_code, events, people "
            "FROM statistics.cells ORDER BY kind, organisation, purpose_code"
        ).fetchall()


def test_fifty_accesses_of_three_citizens_are_three_people_and_withheld(
    settings: Settings, ledger: Ledger
) -> None:
    # Small batches: the same three people come back in every batch.
    save_all(ledger, [access(f"citizen-{i % 3}") for i in range(50)])
    last = project(settings, ledger, batch=7)

    cell = published(settings, last)["uc-claim"]

    assert (cell["events"], cell["people"], cell["suppressed"]) == (None, None, True)
    assert [row[-2:] for row in stored(settings)] == [(50, 3)]


def test_many_events_of_many_people_are_published(settings: Settings, ledger: Ledger) -> None:
    save_all(ledger, [access(f"citizen-{i % 20}") for i in range(40)])
    last = project(settings, ledger)

    cell = published(settings, last)["uc-claim"]

    assert (cell["events"], cell["people"], cell["suppressed"]) == (40, 20, False)


def test_a_lone_small_cell_takes_the_next_smallest_of_its_month_with_it(
    settings: Settings, ledger: Ledger
) -> None:
    # DWP's month: 30 people for claims, 12 for appeals, 3 for fraud. Were only fraud
    # withheld, DWP's total for the month less the other two would give it away.
    save_all(ledger, [access(f"claimant-{i}") for i in range(30)])
    save_all(ledger, [access(f"appellant-{i}", purpose_code="uc-appeal") for i in range(12)])
    save_all(ledger, [access(f"suspect-{i}", purpose_code="fraud") for i in range(3)])
    # HMRC's month is its own group: its one cell is large and is published.
    save_all(ledger, [access(f"taxpayer-{i}", organisation="HMRC") for i in range(11)])
    last = project(settings, ledger)

    with TestClient(create_app(settings), headers=bearer(settings, "auditor")) as api:
        cells = api.get("/v1/statistics", params={"position": last}).json()["cells"]
    shown = {(c["organisation"], c["purpose"]["code"]): c["people"] for c in cells}

    assert shown == {
        ("DWP", "uc-claim"): 30,
        ("DWP", "uc-appeal"): None,  # the next smallest, withheld to protect fraud
        ("DWP", "fraud"): None,
        ("HMRC", "uc-claim"): 11,
    }


def test_a_rebuild_counts_the_same_events_and_people(settings: Settings, ledger: Ledger) -> None:
    people = [f"citizen-{i}" for i in range(40)]
    save_all(ledger, [access(people[i % 25]) for i in range(100)])
    save_all(ledger, [share(people[i : i + 15]) for i in range(0, 40, 5)])  # overlapping
    # Two bulk shares by manifest, one reported by both sides: its people count once.
    bulk = [("a" * 64, 500, "sender"), ("a" * 64, 500, "recipient"), ("b" * 64, 250, "sender")]
    save_all(
        ledger,
        [share([], purpose_code="bulk-match", manifest=(h, n), reporter=r) for h, n, r in bulk],
    )
    project(settings, ledger, batch=9)
    before = stored(settings)

    rebuild(settings, "statistics")

    assert stored(settings) == before
    counted = {(row[1], row[4]): row[5:] for row in before}  # (kind, purpose): figures
    assert counted == {
        ("access", "uc-claim"): (100, 25),
        ("share", "uc-earnings"): (8, 40),
        ("share", "bulk-match"): (3, 750),  # stated counts: no subjects to tell apart
    }


def test_a_view_that_added_up_people_is_named_and_a_rebuild_counts_them_again(
    settings: Settings,
    ledger: Ledger,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    last = save_all(ledger, [access(f"citizen-{i % 3}") for i in range(50)])
    prepare_views(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        # The layout before 2026-12-01: one table, people added up over events.
        conn.execute(
            "CREATE TABLE statistics.counts (month date, kind text, organisation text, "
            "gateway text, purpose_code text, purpose text, events bigint, subjects bigint)"
        )

    prepare_views(settings)
    assert main(["projections", "status"]) == 0

    assert "ledger projections rebuild statistics" in caplog.text
    assert "statistics  at ledger position 0; older layout (" in capsys.readouterr().out

    assert main(["projections", "rebuild", "statistics"]) == 0
    caplog.clear()
    prepare_views(settings)
    assert main(["projections", "status"]) == 0

    assert "older layout" not in caplog.text
    assert f"statistics  at ledger position {last:,}\n" in capsys.readouterr().out
    assert [row[-2:] for row in stored(settings)] == [(50, 3)]
