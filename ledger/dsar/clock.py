"""The statutory clock of a subject access request: when the response is due.

Pure: the standard library and the calendar's types only; no file, network or clock is
read here (``today`` is given). The law (UK GDPR Art. 12(3)-(4) and 12A, DPA 2018 s.54 as
amended by the Data (Use and Access) Act 2025; the ICO's right-of-access guidance):

1. The start ("relevant time") is the latest of the day the request was received and the
   days the identity information asked for, the fee, or proof of a representative's
   authority were received. It is a restart, not a pause.
2. The time limit is one calendar month from the start (day one is the start itself): the
   same date in the next month, or that month's last day if it has no such date (31
   January -> 28 February). Extended, three calendar months from the same start.
3. The days of a clarification pause do not count: from the day it was asked to the day
   the answer arrived, both included. They are added to the time limit's last day.
4. A last day that is a weekend or a bank holiday of the controller's nation moves to
   the next working day.

Decisions where the law is silent (each has a row in ``tests/unit/test_dsar_clock.py``):

- Overlapping pauses: a day counts once.
- Pause days before the start do not count: the Act excludes them from "the period" of
  the time limit, and that period begins at the start; days before it were never part of
  it (a clarification asked while waiting for proof of identity is absorbed by the
  restart, not counted twice).
- A pause asked after the time limit (working-day rule applied) has run out stops
  nothing: there is no time left to stop. A pause asked on the last day counts.
- A pause still awaiting its answer stops the clock (``stopped``); the due date is then
  computed as if the answer arrived ``today``, which must be given.
- Proof of identity (or a fee, or authority) dated before the request is accepted: the
  start is still the latest date, so it changes nothing.
- Refused with ``ValueError``: a pause asked before the request was received, an answer
  dated before its question, ``today`` before an open pause's question, or a date too
  far ahead for the calendar.
- The date by which an extension must be notified is the one-month due date counted the
  same way, pauses and the working-day rule included: Art. 12(3) sets it as "within one
  month of receipt", the same one-month period as the response, and the ICO's guidance
  (and the Periods of Time Regulation, No 1182/71, Art. 3(4), retained in UK law) end a
  period falling on a weekend or bank holiday on the next working day. So it equals the
  due date of the same request unextended.
"""

from __future__ import annotations

import calendar as gregorian
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta

from ledger.dsar.holidays import Calendar, Nation

MONTHS = (
    "",
    *(
        "January February March April May June July August September October November December"
    ).split(),
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Pause:
    """A clarification asked for and (once it arrives) answered: both days excluded."""

    asked: date
    answered: date | None = None  # None: still waiting


@dataclass(frozen=True)
class Request:
    """The facts of a request the clock depends on."""

    received: date
    identity_verified: date | None = None  # each of these restarts the month
    fee_received: date | None = None
    authority_received: date | None = None
    pauses: tuple[Pause, ...] = ()
    extended: bool = False
    # By how many further months (Art. 12(3): "by up to two further months"); counted
    # from the original start, like the first.
    extension_months: int = 2


@dataclass(frozen=True)
class Deadline:
    """When the response is due, and how that date was reached."""

    start: date  # the relevant time
    due: date  # working-day rule applied; an open pause counted up to ``today``
    plain_due: date  # one (or three) calendar months from start: no pauses, no working days
    paused_days: int
    stopped: bool  # a clarification is still awaited: the clock is stopped
    provisional: bool  # the due date relied on bank holidays not yet published
    extension_notice_by: date  # the one-month due date: an extension is notified by then
    steps: tuple[str, ...]  # each step in plain English


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later, or that month's last day if it has no such date."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if not MINYEAR <= year <= MAXYEAR:
        raise OverflowError("date value out of range")
    last = gregorian.monthrange(year, month)[1] if day.day > 28 else 28
    return date(year, month, min(day.day, last))


def days_left(due: date, today: date) -> int:
    """Calendar days from ``today`` to ``due``: 0 on the day, negative when overdue."""
    return (due - today).days


def spoken(day: date) -> str:
    """A date as people write it: "3 March 2026"."""
    return f"{day.day} {MONTHS[day.month]} {day.year}"


def deadline(
    request: Request, nation: Nation, calendar: Calendar, today: date | None = None
) -> Deadline:
    """The request's deadline in ``nation``'s calendar. Raises ``ValueError`` on dates
    out of order (see the module's docstring) or an unknown nation."""
    try:
        return _deadline(request, Nation(nation), calendar, today)
    except OverflowError:
        raise ValueError("a date is too far ahead for the calendar") from None


def _deadline(request: Request, nation: Nation, calendar: Calendar, today: date | None) -> Deadline:
    received = request.received
    steps = [f"The request was received on {spoken(received)}."]
    start = _start(request, steps)
    spans = _pause_spans(request, start, today, steps)
    if request.extended and request.extension_months not in (1, 2):
        raise ValueError("an extension is by one or two further months")
    months = 1 + request.extension_months if request.extended else 1
    plain = add_months(start, months)
    if months == 1:
        steps.append(
            f"One calendar month from {spoken(start)} is {spoken(plain)}{_cut(start, plain)}."
        )
    else:
        further, total = (
            ("one further month", "two") if months == 2 else ("two further months", "three")
        )
        steps.append(
            f"The time limit was extended by {further}: {total} calendar months "
            f"from {spoken(start)} is {spoken(plain)}{_cut(start, plain)}."
        )
    last, paused, stopped = _count_pauses(spans, plain, nation, calendar, steps)
    if paused:
        steps.append(
            f"With the {_days(paused)} that {'does' if paused == 1 else 'do'} not count "
            f"added: {spoken(last)}."
        )
    due = _working_day(last, nation, calendar, steps)
    provisional = calendar.provisional(due)
    steps.append(f"The response is due by {WEEKDAYS[due.weekday()]} {spoken(due)}.")
    if provisional:
        steps.append(
            f"The bank holidays of {due.year} are not published yet: this date uses the "
            "regular ones, and a holiday announced later could move it."
        )
    if months == 1:
        notice = due
    else:
        one_month = add_months(start, 1)
        notice_last, _, _ = _count_pauses(spans, one_month, nation, calendar, None)
        notice = _working_day(notice_last, nation, calendar, None)
    verb = "had to be" if request.extended else "must be"
    steps.append(
        f"An extension {verb} notified, with its reasons, by {spoken(notice)}: "
        "the end of the first month, counted the same way."
    )
    return Deadline(
        start=start,
        due=due,
        plain_due=plain,
        paused_days=paused,
        stopped=stopped,
        provisional=provisional,
        extension_notice_by=notice,
        steps=tuple(steps),
    )


_RESTARTS = (
    ("identity_verified", "the identity information asked for"),
    ("fee_received", "the fee"),
    ("authority_received", "proof of the representative's authority"),
)


def _start(request: Request, steps: list[str]) -> date:
    start = request.received
    for name, _ in _RESTARTS:
        when: date | None = getattr(request, name)
        if when is not None and when > start:
            start = when
    if start != request.received:
        what = " and ".join(words for name, words in _RESTARTS if getattr(request, name) == start)
        steps.append(
            f"The month runs from {spoken(start)}, when {what} arrived: "
            "the clock starts again from that day."
        )
    return start


Span = tuple[date, date, bool]  # first and last day not counted; whether still open


def _pause_spans(request: Request, start: date, today: date | None, steps: list[str]) -> list[Span]:
    """The pauses as day spans from the start on, validated, merged and in order."""
    if not request.pauses:
        return []
    spans: list[Span] = []
    for pause in request.pauses:
        asked, answered = pause.asked, pause.answered
        if asked < request.received:
            raise ValueError(
                f"a clarification asked for on {spoken(asked)} is before the request was "
                f"received on {spoken(request.received)}"
            )
        if answered is None:
            if today is None:
                raise ValueError(
                    f"the clarification asked for on {spoken(asked)} is still awaited: "
                    "give today's date to count it"
                )
            if today < asked:
                raise ValueError(
                    f"today ({spoken(today)}) is before the clarification still awaited "
                    f"was asked for on {spoken(asked)}"
                )
            answered = today
        elif answered < asked:
            raise ValueError(
                f"a clarification answered on {spoken(answered)} is before it was asked "
                f"for on {spoken(asked)}"
            )
        if asked < start:
            steps.append(
                f"The clarification asked for on {spoken(asked)} came before the month "
                f"started on {spoken(start)}: "
                + ("it changes nothing." if answered < start else "only its days from then count.")
            )
        if answered >= start:
            spans.append((max(asked, start), answered, pause.answered is None))
    spans.sort()
    merged: list[Span] = []
    for first, last, open_ in spans:
        if merged and first <= merged[-1][1] + ONE_DAY:
            before = merged[-1]
            merged[-1] = (before[0], max(before[1], last), before[2] or open_)
        else:
            merged.append((first, last, open_))
    return merged


def _count_pauses(
    spans: list[Span],
    last: date,
    nation: Nation,
    calendar: Calendar,
    steps: list[str] | None,
) -> tuple[date, int, bool]:
    """The time limit's last day with the paused days added, the days added, and whether
    a counted pause is still open. A pause asked once the time had run out counts none."""
    paused, stopped = 0, False
    for first, end, open_ in spans:
        if first > last and first > _working_day(last, nation, calendar, None):
            if steps is not None:
                steps.append(
                    f"The clarification asked for on {spoken(first)} came after the time had "
                    "run out, so it stops nothing."
                )
            continue
        days = (end - first).days + 1
        paused += days
        last += timedelta(days=days)
        stopped = stopped or open_
        if steps is None:
            continue
        if open_:
            steps.append(
                f"The clock stopped on {spoken(first)} to wait for clarification and has not "
                f"started again: counted as if the answer arrived today, {spoken(end)} "
                f"({_days(days)})."
            )
        else:
            span = (
                f"on {spoken(first)}" if first == end else f"from {spoken(first)} to {spoken(end)}"
            )
            steps.append(
                f"The clock stopped to wait for clarification {span}: "
                f"{_days(days)} {'does' if days == 1 else 'do'} not count."
            )
    return last, paused, stopped


def _working_day(day: date, nation: Nation, calendar: Calendar, steps: list[str] | None) -> date:
    """``day``, or the next working day in ``nation`` if it is not one."""
    if calendar.is_working_day(nation, day):
        return day
    skipped = []
    due = day
    while not calendar.is_working_day(nation, due):
        skipped.append(due)
        due += ONE_DAY
    if steps is not None:
        why = f"a {WEEKDAYS[day.weekday()]}" if day.weekday() >= 5 else "a bank holiday"
        later = [spoken(d) for d in skipped[1:] if calendar.is_holiday(nation, d)]
        if later:
            why += f", then {'bank holidays' if len(later) > 1 else 'a bank holiday'} on "
            why += " and ".join(later)
        steps.append(
            f"{spoken(day)} is not a working day in {nation.in_words} ({why}), so the "
            f"time limit ends on the next working day, {spoken(due)}."
        )
    return due


def _cut(start: date, plain: date) -> str:
    if plain.day == start.day:
        return ""
    return f" ({MONTHS[plain.month]} has no day {start.day}, so its last day)"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"
