"""The statutory clock of a subject access request: worked cases of the law, the edge
cases the law leaves open (as decided in ``ledger/dsar/clock.py``), and properties."""

from __future__ import annotations

import ast
import calendar as gregorian
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.dsar.clock import Deadline, Pause, Request, add_months, days_left, deadline
from ledger.dsar.holidays import Nation, bundled_calendar

E, S, NI = Nation.ENGLAND_AND_WALES, Nation.SCOTLAND, Nation.NORTHERN_IRELAND
CALENDAR = bundled_calendar()


def d(text: str) -> date:
    return date.fromisoformat(text)


def due(request: Request, nation: Nation = E, today: date | None = None) -> Deadline:
    return deadline(request, nation, CALENDAR, today)


def req(
    received: str,
    *pauses: str,
    identity: str | None = None,
    fee: str | None = None,
    authority: str | None = None,
    extended: bool = False,
    months: int = 2,
) -> Request:
    """A request from ISO dates; a pause is "ASKED..ANSWERED", or "ASKED.." still open."""

    def pause(text: str) -> Pause:
        asked, answered = text.split("..")
        return Pause(d(asked), d(answered) if answered else None)

    return Request(
        d(received),
        identity_verified=d(identity) if identity else None,
        fee_received=d(fee) if fee else None,
        authority_received=d(authority) if authority else None,
        pauses=tuple(map(pause, pauses)),
        extended=extended,
        extension_months=months,
    )


P5 = "2025-09-10..2025-09-14"  # a pause of five days, both ends included

# fmt: off
# (why, request, nation, expected due date); an open pause is counted to TODAY.
TODAY = d("2025-09-19")
WORKED = [
    # The ICO's examples: the same date next month, or that month's last day.
    ("ICO: 3 September -> 3 October", req("2025-09-03"), E, "2025-10-03"),
    ("ICO: 1 January -> 1 February; day one a bank holiday", req("2027-01-01"), E, "2027-02-01"),
    ("ICO: 31 January -> 28 February", req("2025-01-31"), E, "2025-02-28"),
    ("ICO: 31 January -> 29 February in a leap year", req("2028-01-31"), E, "2028-02-29"),
    ("30 April -> 30 May, not 31", req("2025-04-30"), E, "2025-05-30"),
    # Weekends: the next working day.
    ("lands on a Saturday: Monday", req("2025-09-04"), E, "2025-10-06"),
    ("lands on a Sunday: Monday", req("2025-09-05"), E, "2025-10-06"),
    # Each nation's own holidays.
    ("St Andrew's Day (Monday 30 Nov) in Scotland", req("2026-10-30"), S, "2026-12-01"),
    ("... an ordinary Monday in England and Wales", req("2026-10-30"), E, "2026-11-30"),
    ("St Andrew's Day on a Sunday: Monday 1 Dec, Scotland", req("2025-11-01"), S, "2025-12-02"),
    ("2 January (a Friday) in Scotland", req("2025-12-02"), S, "2026-01-05"),
    ("... an ordinary Friday in England and Wales", req("2025-12-02"), E, "2026-01-02"),
    ("St Patrick's Day in Northern Ireland", req("2026-02-17"), NI, "2026-03-18"),
    ("... an ordinary Tuesday in England and Wales", req("2026-02-17"), E, "2026-03-17"),
    ("12 July in Northern Ireland", req("2027-06-12"), NI, "2027-07-13"),
    ("... an ordinary Monday in Scotland", req("2027-06-12"), S, "2027-07-12"),
    ("Easter Monday in England and Wales", req("2026-03-06"), E, "2026-04-07"),
    ("Easter Monday in Northern Ireland", req("2026-03-06"), NI, "2026-04-07"),
    ("no Easter Monday in Scotland", req("2026-03-06"), S, "2026-04-06"),
    ("Good Friday, the weekend, Easter Monday", req("2026-03-03"), E, "2026-04-07"),
    ("Good Friday and the weekend in Scotland", req("2026-03-03"), S, "2026-04-06"),
    ("first Monday of August: Scotland's summer holiday", req("2026-07-03"), S, "2026-08-04"),
    ("... an ordinary Monday in England and Wales", req("2026-07-03"), E, "2026-08-03"),
    ("last Monday of August: summer holiday in E&W", req("2026-07-31"), E, "2026-09-01"),
    ("... an ordinary Monday in Scotland", req("2026-07-31"), S, "2026-08-31"),
    # Christmas and New Year substitutes.
    ("Christmas on a Saturday: 27 and 28 Dec holidays", req("2027-11-25"), E, "2027-12-29"),
    ("Boxing Day on a Saturday: Monday 28 Dec instead", req("2026-11-26"), E, "2026-12-29"),
    ("1 January on a Saturday: Monday 3rd", req("2027-12-01"), E, "2028-01-04"),
    ("... and Tuesday 4th for 2 January in Scotland", req("2027-12-01"), S, "2028-01-05"),
    # Stopping the clock: the days from asked to answered, both included, are added.
    ("a pause of 5 days (10 to 14 September)", req("2025-09-03", P5), E, "2025-10-08"),
    ("answered the day it was asked: 1 day", req("2025-09-03", "2025-09-10..2025-09-10"), E,
     "2025-10-06"),
    ("two pauses, 5 and 2 days", req("2025-09-03", P5, "2025-09-20..2025-09-21"), E,
     "2025-10-10"),
    ("overlapping pauses 12-16 and 10-14: 7 days, once",
     req("2025-09-03", "2025-09-12..2025-09-16", P5), E, "2025-10-10"),
    ("an open pause counted to today: 10 to 19 Sept, 10 days", req("2025-09-03", "2025-09-10.."),
     E, "2025-10-13"),
    ("paused days land it on a Saturday: Monday", req("2025-09-03", "2025-09-10..2025-09-11"), E,
     "2025-10-06"),
    # Extension: three months from the original start, plus paused days.
    ("extended: three months from the start", req("2025-09-03", extended=True), E, "2025-12-03"),
    ("extended by one further month: two months from the start",
     req("2025-09-03", extended=True, months=1), E, "2025-11-03"),
    ("one further month from 31 Dec: 28 Feb 2026, a Saturday",
     req("2025-12-31", extended=True, months=1), E, "2026-03-02"),
    ("extended, with 5 paused days", req("2025-09-03", P5, extended=True), E, "2025-12-08"),
    ("extended from the identity's day, not the receipt",
     req("2025-09-01", identity="2025-09-05", extended=True), E, "2025-12-05"),
    ("extended from 30 Nov: 28 Feb 2027, a Sunday", req("2026-11-30", extended=True), E,
     "2027-03-01"),
    ("a pause in the second month counts when extended",
     req("2025-09-03", "2025-10-20..2025-10-21", extended=True), E, "2025-12-05"),
    # The start is the latest of receipt, identity, fee and authority: a restart.
    ("identity received later restarts the month", req("2025-09-03", identity="2025-09-10"), E,
     "2025-10-10"),
    ("the fee after the identity: from the fee (a Sunday)",
     req("2025-09-03", identity="2025-09-10", fee="2025-09-12"), E, "2025-10-13"),
    ("a representative's authority, last of all",
     req("2025-09-03", identity="2025-09-10", authority="2025-09-17"), E, "2025-10-17"),
    ("identity sent before the request changes nothing", req("2025-09-03", identity="2025-09-01"),
     E, "2025-10-03"),
    # Edge cases decided in clock.py's docstring.
    ("pause wholly before the start does not count",
     req("2025-09-01", "2025-09-02..2025-09-04", identity="2025-09-05"), E, "2025-10-06"),
    ("pause partly before the start: only 5-8 Sept count",
     req("2025-09-01", "2025-09-03..2025-09-08", identity="2025-09-05"), E, "2025-10-09"),
    ("pause asked after the time ran out stops nothing",
     req("2025-09-03", "2025-10-10..2025-10-12"), E, "2025-10-03"),
    ("pause asked on the last day counts", req("2025-09-03", "2025-10-03..2025-10-04"), E,
     "2025-10-06"),
    ("a pause within the days an earlier one added counts",
     req("2025-09-03", "2025-09-10..2025-09-19", "2025-10-08..2025-10-08"), E, "2025-10-14"),
    # Beyond the bundled years: by rule, and provisional.
    ("2030: Good Friday, weekend, Easter Monday", req("2030-03-19"), E, "2030-04-23"),
    ("2030 in Scotland: Good Friday and the weekend", req("2030-03-19"), S, "2030-04-22"),
]
# fmt: on


@pytest.mark.parametrize(
    ("request_", "nation", "expected"),
    [pytest.param(r, n, e, id=why) for why, r, n, e in WORKED],
)
def test_worked_case(request_: Request, nation: Nation, expected: str) -> None:
    assert due(request_, nation, TODAY).due == d(expected)


def test_the_first_month_s_figures_of_a_paused_request() -> None:
    result = due(Request(d("2025-09-03"), pauses=(Pause(d("2025-09-10"), d("2025-09-14")),)))

    assert result.start == d("2025-09-03")
    assert result.plain_due == d("2025-10-03")
    assert result.paused_days == 5
    assert result.due == d("2025-10-08")
    assert not result.stopped and not result.provisional


def test_an_open_pause_stops_the_clock_and_needs_today() -> None:
    request = Request(d("2025-09-03"), pauses=(Pause(d("2025-09-10")),))

    assert due(request, today=d("2025-09-19")).stopped
    assert due(request, today=d("2025-09-19")).paused_days == 10
    with pytest.raises(ValueError, match="still awaited: give today's date"):
        due(request)
    with pytest.raises(ValueError, match=r"today \(9 September 2025\) is before"):
        due(request, today=d("2025-09-09"))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            Request(d("2025-09-03"), pauses=(Pause(d("2025-09-01"), d("2025-09-04")),)),
            "asked for on 1 September 2025 is before the request was received on 3 September",
        ),
        (
            Request(d("2025-09-03"), pauses=(Pause(d("2025-09-10"), d("2025-09-08")),)),
            "answered on 8 September 2025 is before it was asked for on 10 September 2025",
        ),
        (Request(d("9999-12-15")), "too far ahead"),
        (Request(d("9999-10-15"), pauses=(Pause(d("9999-10-16"), d("9999-12-31")),)), "too far"),
    ],
)
def test_dates_out_of_order_are_refused(request_: Request, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        due(request_)


def test_beyond_the_published_years_the_due_date_is_provisional() -> None:
    assert due(Request(d("2030-03-19"))).provisional
    assert not due(Request(d("2028-11-26"))).provisional  # due 27 December 2028
    # Received in 2028, due in 2029: the 2029 calendar was consulted.
    late = due(Request(d("2028-12-31")))
    assert late.due == d("2029-01-31") and late.provisional
    assert any("not published yet" in step for step in late.steps)


def test_the_extension_must_be_notified_within_the_first_month_pauses_included() -> None:
    request = Request(
        d("2025-09-03"),
        pauses=(Pause(d("2025-09-10"), d("2025-09-14")), Pause(d("2025-10-20"), d("2025-10-21"))),
        extended=True,
    )
    result = due(request)

    # One month (3 October) plus the 5 days paused in it; the second month's pause is not.
    assert result.extension_notice_by == d("2025-10-08")
    assert result.due == d("2025-12-10")  # 3 December plus 7 days
    # On a weekend the notice date moves to the next working day, as the due date does.
    assert due(Request(d("2025-09-04"), extended=True)).extension_notice_by == d("2025-10-06")


def test_the_steps_say_each_rule_in_plain_english() -> None:
    result = due(
        Request(
            d("2027-11-25"),
            identity_verified=d("2027-11-27"),
            pauses=(Pause(d("2027-11-26"), d("2027-11-28")),),
        ),
        S,
    )

    assert result.steps == (
        "The request was received on 25 November 2027.",
        "The month runs from 27 November 2027, when the identity information asked for "
        "arrived: the clock starts again from that day.",
        "The clarification asked for on 26 November 2027 came before the month started on "
        "27 November 2027: only its days from then count.",
        "One calendar month from 27 November 2027 is 27 December 2027.",
        "The clock stopped to wait for clarification from 27 November 2027 to 28 November "
        "2027: 2 days do not count.",
        "With the 2 days that do not count added: 29 December 2027.",
        "The response is due by Wednesday 29 December 2027.",
        "An extension must be notified, with its reasons, by 29 December 2027: the end of "
        "the first month, counted the same way.",
    )
    weekend = due(Request(d("2027-11-25")), S).steps
    assert (
        "25 December 2027 is not a working day in Scotland (a Saturday, then bank holidays "
        "on 27 December 2027 and 28 December 2027), so the time limit ends on the next "
        "working day, 29 December 2027." in weekend
    )
    month_end = due(Request(d("2025-01-31"))).steps
    assert "(February has no day 31, so its last day)" in month_end[1]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2025-01-31", 1, "2025-02-28"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2025-03-31", 1, "2025-04-30"),
        ("2025-11-30", 3, "2026-02-28"),
        ("2025-12-15", 1, "2026-01-15"),
        ("2025-10-31", 3, "2026-01-31"),
        ("2025-09-03", 0, "2025-09-03"),
    ],
)
def test_add_months(day: str, months: int, expected: str) -> None:
    assert add_months(d(day), months) == d(expected)


def test_days_left() -> None:
    assert days_left(d("2025-10-03"), d("2025-10-01")) == 2
    assert days_left(d("2025-10-03"), d("2025-10-03")) == 0
    assert days_left(d("2025-10-03"), d("2025-10-05")) == -2


def test_the_clock_imports_only_the_standard_library_and_the_calendar() -> None:
    source = Path(__file__).resolve().parents[2] / "ledger" / "dsar" / "clock.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)

    assert imported - {"__future__", "calendar", "dataclasses", "datetime"} == {
        "ledger.dsar.holidays"
    }


# Properties, over 2024-2032 (bundled and computed years) and all three nations.

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))
nations = st.sampled_from(list(Nation))


@st.composite
def requests(draw: st.DrawFn) -> Request:
    received = draw(days)
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        asked = received + timedelta(days=draw(st.integers(0, 80)))
        pauses.append(Pause(asked, asked + timedelta(days=draw(st.integers(0, 30)))))
    later = st.none() | st.integers(0, 20).map(lambda n: received + timedelta(days=n))
    return Request(
        received,
        identity_verified=draw(later),
        fee_received=draw(later),
        pauses=tuple(pauses),
        extended=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(requests(), nations)
def test_the_due_date_is_a_working_day_no_earlier_than_the_plain_date(
    request: Request, nation: Nation
) -> None:
    result = due(request, nation)

    assert CALENDAR.is_working_day(nation, result.due)
    assert result.due >= result.plain_due + timedelta(days=result.paused_days)
    # No more than four days in a row are not working days (Easter, Christmas).
    assert result.due - result.plain_due <= timedelta(days=result.paused_days + 4)
    assert result.extension_notice_by <= result.due
    assert days_left(result.due, result.start) > 0


@settings(max_examples=300, deadline=None)
@given(days, st.integers(1, 400), nations, st.booleans())
def test_the_due_date_never_goes_back_when_the_request_arrives_later(
    received: date, later: int, nation: Nation, extended: bool
) -> None:
    first = due(Request(received, extended=extended), nation)
    second = due(Request(received + timedelta(days=later), extended=extended), nation)

    assert second.due >= first.due


@settings(max_examples=300, deadline=None)
@given(requests(), nations)
def test_an_extension_never_brings_the_due_date_forward(request: Request, nation: Nation) -> None:
    extended = due(Request(**{**vars(request), "extended": True}), nation)
    plain = due(Request(**{**vars(request), "extended": False}), nation)

    assert extended.due >= plain.due
    # The notice date is the due date of the request had it not been extended.
    assert extended.extension_notice_by == plain.due == plain.extension_notice_by


@settings(max_examples=300, deadline=None)
@given(requests(), nations, st.integers(0, 80), st.integers(0, 30))
def test_more_paused_days_never_make_it_earlier(
    request: Request, nation: Nation, after: int, length: int
) -> None:
    asked = request.received + timedelta(days=after)
    more = Request(
        **{**vars(request), "pauses": (*request.pauses, Pause(asked, asked + timedelta(length)))}
    )

    assert due(more, nation).due >= due(request, nation).due
    assert due(more, nation).paused_days >= due(request, nation).paused_days


@settings(max_examples=500, deadline=None)
@given(days, st.integers(0, 36))
def test_add_months_keeps_the_day_or_takes_the_month_s_last(day: date, months: int) -> None:
    result = add_months(day, months)

    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == min(day.day, gregorian.monthrange(result.year, result.month)[1])
    assert add_months(day + timedelta(days=1), months) >= result


def test_a_nation_named_by_its_text_is_the_nation_and_an_unknown_one_is_refused() -> None:
    assert due(req("2025-12-02"), Nation("scotland")) == deadline(
        req("2025-12-02"),
        "scotland",
        CALENDAR,  # type: ignore[arg-type]
    )
    assert CALENDAR.is_holiday("scotland", d("2030-01-02"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'wales' is not a valid Nation"):
        deadline(req("2025-12-02"), "wales", CALENDAR)  # type: ignore[arg-type]
