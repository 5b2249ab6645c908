"""Japanese public holidays (国民の祝日) by rule, for the occupancy schedule. Pure.

Rules of the Act on National Holidays as amended in 2018: fixed dates, "Happy Monday" holidays,
the equinoxes (the usual approximation, exact for 1980-2099), substitute holidays (a holiday on a
Sunday moves to the next non-holiday) and citizens' holidays (a day between two holidays).
One-off moves (the 2020/2021 Olympic years) are not modelled: the simulator needs a realistic
calendar, not the official gazette.
"""

from datetime import date, timedelta
from functools import lru_cache

MONDAY, SUNDAY = 0, 6


def _nth_monday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (MONDAY - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _vernal_equinox(year: int) -> date:
    return date(year, 3, int(20.8431 + 0.242194 * (year - 1980) - (year - 1980) // 4))


def _autumnal_equinox(year: int) -> date:
    return date(year, 9, int(23.2488 + 0.242194 * (year - 1980) - (year - 1980) // 4))


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[date]:
    named = {
        date(year, 1, 1),  # New Year's Day
        _nth_monday(year, 1, 2),  # Coming of Age Day
        date(year, 2, 11),  # National Foundation Day
        date(year, 2, 23),  # Emperor's Birthday (since 2020)
        _vernal_equinox(year),
        date(year, 4, 29),  # Showa Day
        date(year, 5, 3),  # Constitution Memorial Day
        date(year, 5, 4),  # Greenery Day
        date(year, 5, 5),  # Children's Day
        _nth_monday(year, 7, 3),  # Marine Day
        date(year, 8, 11),  # Mountain Day
        _nth_monday(year, 9, 3),  # Respect for the Aged Day
        _autumnal_equinox(year),
        _nth_monday(year, 10, 2),  # Sports Day
        date(year, 11, 3),  # Culture Day
        date(year, 11, 23),  # Labour Thanksgiving Day
    }
    days = set(named)
    for day in sorted(named):
        if day.weekday() == SUNDAY:  # substitute holiday: the next day that is not a holiday
            substitute = day + timedelta(days=1)
            while substitute in days:
                substitute += timedelta(days=1)
            days.add(substitute)
    for day in sorted(named):  # citizens' holiday: a weekday between two holidays
        between = day + timedelta(days=1)
        if (
            between + timedelta(days=1) in named
            and between not in days
            and between.weekday() != SUNDAY
        ):
            days.add(between)
    return frozenset(days)


def is_public_holiday(day: date) -> bool:
    return day in public_holidays(day.year)


def is_year_end_closure(day: date) -> bool:
    """29 December to 3 January: Japanese offices close for the New Year (年末年始), though only
    1 January is a public holiday."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_public_holiday(day) and not is_year_end_closure(day)
