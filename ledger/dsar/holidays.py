"""Bank holidays of the three UK nations, for the statutory clock's working-day rule.

The published dates are those GOV.UK publishes, as bundled in the ``govuk-bank-holidays``
package (``bank-holidays.json``), read from the installed package's files: never the
network. Years outside the bundled ones are computed from the regular rules (the
Banking and Financial Dealings Act 1971 and its royal proclamations as practised:
substitute days, Easter by the anonymous Gregorian algorithm) and are *provisional*:
a one-off holiday (a jubilee, a coronation, a state funeral) or a moved one (VE day in
2020) is only known once announced. The calendar's ``fingerprint`` changes with the
bundled data and with the rules, so views that keep a deadline know to compute it again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

# Bump when a rule below changes: it is part of every calendar's fingerprint.
RULES_VERSION = "uk-bank-holiday-rules/1"
BUNDLED_PACKAGE = "govuk_bank_holidays"
BUNDLED_FILE = "bank-holidays.json"

MONDAY, SATURDAY = 0, 5


class Nation(StrEnum):
    """The nations whose bank holidays differ (GOV.UK's divisions, by the same names)."""

    ENGLAND_AND_WALES = "england-and-wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern-ireland"

    @property
    def in_words(self) -> str:
        """The nation's name in a sentence: "England and Wales"."""
        return _TITLES[self]


_TITLES = {
    Nation.ENGLAND_AND_WALES: "England and Wales",
    Nation.SCOTLAND: "Scotland",
    Nation.NORTHERN_IRELAND: "Northern Ireland",
}


def easter_sunday(year: int) -> date:
    """Easter Sunday in the Gregorian calendar (the anonymous algorithm, "Meeus/Jones/Butcher")."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(MONDAY - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    after = date(year + month // 12, month % 12 + 1, 1)
    last = after - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - MONDAY) % 7)


def _next_monday_if_weekend(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= SATURDAY else day


def _with_substitutes(days: tuple[date, ...]) -> set[date]:
    """Consecutive fixed holidays (Christmas and Boxing Day; 1 and 2 January in Scotland):
    each that falls at a weekend is taken on the next weekday not already a holiday."""
    taken: set[date] = set()
    for day in days:
        while day.weekday() >= SATURDAY or day in taken:
            day += timedelta(days=1)
        taken.add(day)
    return taken


@lru_cache(maxsize=1024)
def rule_holidays(nation: Nation, year: int) -> frozenset[date]:
    """The regular bank holidays of ``nation`` in ``year``, by rule (no one-off days)."""
    easter = easter_sunday(year)
    days = {
        _first_monday(year, 5),  # early May
        _last_monday(year, 5),  # spring
        easter - timedelta(days=2),  # Good Friday
    }
    days |= _with_substitutes((date(year, 12, 25), date(year, 12, 26)))
    if nation == Nation.SCOTLAND:
        days |= _with_substitutes((date(year, 1, 1), date(year, 1, 2)))
        days.add(_first_monday(year, 8))
        days.add(_next_monday_if_weekend(date(year, 11, 30)))  # St Andrew's Day
    else:
        days |= _with_substitutes((date(year, 1, 1),))
        days.add(easter + timedelta(days=1))  # Easter Monday
        days.add(_last_monday(year, 8))
    if nation == Nation.NORTHERN_IRELAND:
        days.add(_next_monday_if_weekend(date(year, 3, 17)))  # St Patrick's Day
        days.add(_next_monday_if_weekend(date(year, 7, 12)))  # Battle of the Boyne
    return frozenset(days)


@dataclass(frozen=True)
class Calendar:
    """Bank holidays of every nation: published years from data, the others by rule.

    Equal (and hashed) by fingerprint and published years, so it can key a cache.
    """

    fingerprint: str  # short hash of the published data and the rules' version
    first_year: int  # the published years, inclusive
    last_year: int
    published: MappingProxyType[Nation, frozenset[date]] = field(compare=False, repr=False)

    def is_holiday(self, nation: Nation, day: date) -> bool:
        if self.first_year <= day.year <= self.last_year:
            try:
                return day in self.published[nation]
            except KeyError:  # the nation's name as text ("scotland"): Enum hashes differ
                return day in self.published[Nation(nation)]
        return day in rule_holidays(Nation(nation), day.year)

    def is_working_day(self, nation: Nation, day: date) -> bool:
        return day.weekday() < SATURDAY and not self.is_holiday(nation, day)

    def provisional(self, day: date) -> bool:
        """Whether ``day`` lies outside the published years: its holidays come from the
        rules, and a holiday announced later may change them."""
        return not self.first_year <= day.year <= self.last_year

    def holidays(self, nation: Nation, year: int) -> frozenset[date]:
        """Every bank holiday of ``nation`` in ``year``."""
        nation = Nation(nation)
        if self.first_year <= year <= self.last_year:
            return frozenset(d for d in self.published[nation] if d.year == year)
        return rule_holidays(nation, year)


def calendar_from_json(raw: bytes) -> Calendar:
    """A calendar from GOV.UK's ``bank-holidays.json`` (its three divisions' events).

    Raises ``ValueError`` if a division is missing or the divisions cover different years.
    """
    document: dict[str, Any] = json.loads(raw)
    published: dict[Nation, frozenset[date]] = {}
    for nation in Nation:
        try:
            events = document[nation.value]["events"]
        except (KeyError, TypeError):
            raise ValueError(f"the bank holiday data has no {nation.value!r} division") from None
        published[nation] = frozenset(date.fromisoformat(e["date"]) for e in events)
    years = {(min(d.year for d in days), max(d.year for d in days)) for days in published.values()}
    if len(years) != 1:
        raise ValueError("the bank holiday data's divisions cover different years")
    ((first, last),) = years
    digest = hashlib.sha256(RULES_VERSION.encode() + b"\0" + raw).hexdigest()[:16]
    return Calendar(digest, first, last, MappingProxyType(published))


def bundled_bytes() -> bytes:
    """The ``bank-holidays.json`` that ships inside ``govuk-bank-holidays`` (a file read,
    never the network: the package's ``__init__`` imports nothing)."""
    return resources.files(BUNDLED_PACKAGE).joinpath(BUNDLED_FILE).read_bytes()


@cache
def bundled_calendar() -> Calendar:
    """The calendar of the bundled data, read once per process."""
    return calendar_from_json(bundled_bytes())
