"""The statistics' month of a moment: the first day of its month in UK time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from projections.statistics import month_of
from projections.wording import UK


def reference(moment: datetime) -> date:
    local = moment.astimezone(UK)
    return date(local.year, local.month, 1)


def test_every_hour_of_two_years_falls_in_the_uk_month() -> None:
    # Two years, both clock changes of each, and every month's end at every hour.
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    while moment.year < 2027:
        for minute in (0, 59):
            at = moment.replace(minute=minute, second=59, microsecond=999_999)
            assert month_of(at) == reference(at), at
        moment += timedelta(hours=1)


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        # 23:30 UTC on 31 May is 00:30 on 1 June in London (BST).
        (datetime(2026, 5, 31, 23, 30, tzinfo=UTC), date(2026, 6, 1)),
        # In winter London is on UTC: still January.
        (datetime(2026, 1, 31, 23, 30, tzinfo=UTC), date(2026, 1, 1)),
        # Another offset: 00:30 on 1 July in Paris is 23:30 on 30 June in London.
        (datetime(2026, 7, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), date(2026, 6, 1)),
    ],
)
def test_months_turn_at_uk_midnight(moment: datetime, month: date) -> None:
    assert month_of(moment) == month
