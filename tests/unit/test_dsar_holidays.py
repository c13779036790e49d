"""Bank holiday calendars: GOV.UK's bundled dates read offline, and the regular rules
that stand in for them beyond the last bundled year."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ledger.dsar.holidays import (
    Calendar,
    Nation,
    bundled_bytes,
    bundled_calendar,
    calendar_from_json,
    easter_sunday,
    rule_holidays,
)

ROOT = Path(__file__).resolve().parents[2]
E, S, NI = Nation.ENGLAND_AND_WALES, Nation.SCOTLAND, Nation.NORTHERN_IRELAND

# The published days the rules do not make, and the regular days that were moved: every
# one a one-off announced by proclamation. The same in all three nations.
ONE_OFF = {
    # Queen's Diamond Jubilee: spring holiday moved from 28 May to 4 June, 5 June extra.
    2012: ({date(2012, 6, 4), date(2012, 6, 5)}, {date(2012, 5, 28)}),
    # Early May holiday moved from 4 May to Friday 8 May for the 75th VE day.
    2020: ({date(2020, 5, 8)}, {date(2020, 5, 4)}),
    # Platinum Jubilee: spring holiday moved from 30 May to 2 June, 3 June extra; the
    # State Funeral of Queen Elizabeth II on 19 September.
    2022: ({date(2022, 6, 2), date(2022, 6, 3), date(2022, 9, 19)}, {date(2022, 5, 30)}),
    # The coronation of King Charles III.
    2023: ({date(2023, 5, 8)}, set()),
}


def _socket_refused(*_: Any, **__: Any) -> Any:
    raise AssertionError("the bank holidays were about to be fetched over the network")


def test_the_bundled_data_is_read_without_opening_a_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "socket", _socket_refused)
    monkeypatch.setattr(socket, "create_connection", _socket_refused)
    monkeypatch.setattr(socket, "getaddrinfo", _socket_refused)

    calendar = calendar_from_json(bundled_bytes())

    assert calendar == bundled_calendar()
    assert calendar.is_holiday(E, date(2026, 12, 28))


def test_loading_the_calendar_imports_no_http_client() -> None:
    # The package's own loader imports requests (and tries GOV.UK first): never used here.
    code = (
        "import sys\n"
        "from ledger.dsar.holidays import bundled_calendar\n"
        "bundled_calendar()\n"
        "print(sorted(m for m in ('requests', 'urllib3', 'http.client') if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert shown.stdout.strip() == "[]"


def test_the_bundled_years_run_from_2012_to_2028_in_every_nation() -> None:
    calendar = bundled_calendar()

    assert (calendar.first_year, calendar.last_year) == (2012, 2028)
    assert {n.value for n in Nation} == set(json.loads(bundled_bytes()))


@pytest.mark.parametrize("nation", list(Nation))
def test_the_rules_make_every_bundled_year_but_the_one_off_holidays(nation: Nation) -> None:
    calendar = bundled_calendar()
    for year in range(calendar.first_year, calendar.last_year + 1):
        published, ruled = calendar.holidays(nation, year), rule_holidays(nation, year)
        only_published, only_ruled = ONE_OFF.get(year, (set(), set()))

        assert (published - ruled, ruled - published) == (only_published, only_ruled), year


@pytest.mark.parametrize(
    ("year", "sunday"),
    [
        (2000, date(2000, 4, 23)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2029, date(2029, 4, 1)),
        (2030, date(2030, 4, 21)),
        (2038, date(2038, 4, 25)),  # the latest possible
        (2285, date(2285, 3, 22)),  # the earliest possible
        (1961, date(1961, 4, 2)),
    ],
)
def test_easter_sunday_by_the_anonymous_gregorian_algorithm(year: int, sunday: date) -> None:
    assert easter_sunday(year) == sunday


@pytest.mark.parametrize(
    ("nation", "days"),
    [
        (
            E,  # 2029: New Year's Day a Monday, Easter on 1 April
            {(1, 1), (3, 30), (4, 2), (5, 7), (5, 28), (8, 27), (12, 25), (12, 26)},
        ),
        (
            S,  # 2 January, no Easter Monday, first Monday of August, St Andrew's Day (Fri)
            {(1, 1), (1, 2), (3, 30), (5, 7), (5, 28), (8, 6), (11, 30), (12, 25), (12, 26)},
        ),
        (
            NI,  # St Patrick's Day a Saturday: Monday 19 March; 12 July a Thursday
            {(1, 1), (3, 19), (3, 30), (4, 2), (5, 7), (5, 28), (7, 12), (8, 27)}
            | {(12, 25), (12, 26)},
        ),
    ],
)
def test_the_first_year_beyond_the_bundled_data_by_rule(
    nation: Nation, days: set[tuple[int, int]]
) -> None:
    assert rule_holidays(nation, 2029) == {date(2029, m, d) for m, d in days}


@pytest.mark.parametrize(
    ("nation", "year", "expected"),
    [
        # Christmas on Saturday, Boxing Day on Sunday: Monday and Tuesday instead.
        (E, 2032, {date(2032, 12, 27), date(2032, 12, 28)}),
        # Christmas on Sunday: Boxing Day on Monday, Christmas on Tuesday.
        (E, 2033, {date(2033, 12, 26), date(2033, 12, 27)}),
        # Boxing Day on Saturday: Monday 28th.
        (E, 2037, {date(2037, 12, 25), date(2037, 12, 28)}),
    ],
)
def test_christmas_and_boxing_day_substitutes(
    nation: Nation, year: int, expected: set[date]
) -> None:
    assert {d for d in rule_holidays(nation, year) if d.month == 12} == expected


def test_new_year_substitutes_differ_in_scotland() -> None:
    # 1 January 2033 is a Saturday: Monday 3rd; Scotland's 2 January (Sunday) too: Tuesday.
    assert {d for d in rule_holidays(E, 2033) if d.month == 1} == {date(2033, 1, 3)}
    assert {d for d in rule_holidays(S, 2033) if d.month == 1} == {
        date(2033, 1, 3),
        date(2033, 1, 4),
    }
    # 2 January 2032 is a Friday after 1 January on a Thursday: no substitute.
    assert {d for d in rule_holidays(S, 2032) if d.month == 1} == {
        date(2032, 1, 1),
        date(2032, 1, 2),
    }


def test_a_day_beyond_the_bundled_years_is_provisional_and_follows_the_rules() -> None:
    calendar = bundled_calendar()

    assert not calendar.provisional(date(2028, 12, 31))
    assert calendar.provisional(date(2029, 1, 1))
    assert calendar.is_holiday(E, date(2030, 4, 22))  # Easter Monday 2030
    assert not calendar.is_holiday(S, date(2030, 4, 22))
    assert calendar.is_working_day(E, date(2030, 4, 23))
    assert not calendar.is_working_day(E, date(2030, 4, 20))  # a Saturday


def _with_extra_holiday(day: date) -> bytes:
    document = json.loads(bundled_bytes())
    document["england-and-wales"]["events"].append(
        {"title": "Extra bank holiday", "date": day.isoformat(), "notes": "", "bunting": True}
    )
    return json.dumps(document).encode()


def test_a_late_announced_holiday_changes_the_fingerprint_and_the_calendar() -> None:
    bundled = bundled_calendar()
    announced = calendar_from_json(_with_extra_holiday(date(2027, 6, 7)))

    assert announced.fingerprint != bundled.fingerprint
    assert announced != bundled
    assert announced.is_holiday(E, date(2027, 6, 7))
    assert not bundled.is_holiday(E, date(2027, 6, 7))
    assert calendar_from_json(bundled_bytes()).fingerprint == bundled.fingerprint


def test_a_calendar_can_key_a_cache() -> None:
    cache: dict[Calendar, str] = {bundled_calendar(): "kept"}

    assert cache[calendar_from_json(bundled_bytes())] == "kept"


def test_data_without_a_nation_is_refused() -> None:
    document = json.loads(bundled_bytes())
    del document["scotland"]

    with pytest.raises(ValueError, match="no 'scotland' division"):
        calendar_from_json(json.dumps(document).encode())
