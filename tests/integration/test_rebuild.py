"""`ledger projections rebuild`: a view rebuilt from the log in a shadow schema while the
old one keeps serving, then swapped in; the live runner carries on with the new one."""

from __future__ import annotations

import psycopg
import pytest

from cli.main import main
from ledger.application import Ledger
from ledger.settings import Settings
from projections.runner import prepare_views
from tests.support.ledger import wait_until
from tests.support.views import access, running_projections, save_all

pytestmark = pytest.mark.integration


def count(settings: Settings, query: str) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


def test_a_rebuild_swaps_in_a_complete_view_while_the_runner_keeps_going(
    settings: Settings,
    ledger: Ledger,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    save_all(ledger, [access(f"s{i % 50}") for i in range(3000)])
    prepare_views(settings)
    with running_projections(settings):
        wait_until(lambda: count(settings, "SELECT count(*) FROM timeline.entries") == 3000)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM timeline.entries WHERE subject_key = 's1'")  # damage

        assert main(["projections", "rebuild", "timeline"]) == 0

        assert count(settings, "SELECT count(*) FROM timeline.entries") == 3000  # repaired
        last = save_all(ledger, [access("s-after")])
        wait_until(
            lambda: count(settings, "SELECT notification_id FROM timeline.tracking") == last,
            what="the runner following on in the new view",
        )
        assert count(settings, "SELECT count(*) FROM timeline.entries") == 3001
    out, err = capsys.readouterr()
    assert "rebuild timeline [" in err and "events/s" in out and "swapped in" in out
    assert (
        count(settings, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'timeline__%'") == 0
    )


def test_every_view_can_be_rebuilt_and_status_shows_their_positions(
    settings: Settings,
    ledger: Ledger,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    last = save_all(ledger, [access("s1") for _ in range(20)])

    assert main(["projections", "rebuild"]) == 0
    assert main(["projections", "status"]) == 0

    out = capsys.readouterr().out
    for view in ("timeline", "consent", "agreements", "findings", "statistics"):
        assert f"{view:<11} at ledger position {last:,}" in out
    assert main(["projections", "rebuild", "nonsense"]) == 2


def test_a_view_with_an_older_layout_is_named_and_a_rebuild_brings_it_up_to_date(
    settings: Settings,
    ledger: Ledger,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    last = save_all(ledger, [access("s1") for _ in range(5)])
    prepare_views(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        # The timeline's layout before 2026-11-25 had this second index.
        conn.execute(
            "CREATE INDEX entries_by_time "
            "ON timeline.entries (subject_key, occurred_at DESC, position DESC)"
        )

    prepare_views(settings)
    assert main(["projections", "status"]) == 0

    assert "view timeline has an older layout" in caplog.text
    assert "ledger projections rebuild timeline" in caplog.text
    out = capsys.readouterr().out
    assert "timeline    at ledger position 0; older layout (" in out
    assert "consent     at ledger position 0\n" in out  # only the timeline is named

    assert main(["projections", "rebuild", "timeline"]) == 0
    caplog.clear()
    prepare_views(settings)
    assert main(["projections", "status"]) == 0

    assert "older layout" not in caplog.text
    out = capsys.readouterr().out
    assert f"timeline    at ledger position {last:,}\n" in out
    assert count(settings, "SELECT count(*) FROM timeline.entries") == 5
