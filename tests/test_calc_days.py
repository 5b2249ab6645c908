"""Interval readings -> totals per local day of the site (time zones, DST, offsets, coverage)."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.pure.calc.days import (
    DayTotal,
    IntervalPoint,
    aggregate_days,
    expected_intervals,
    local_day_bounds,
    local_day_of,
    mean_temperature_c,
)

HALF_HOUR = 1800
HOUR = 3600
DAY_S = 86400


def utc_s(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())  # type: ignore[misc]


def local_midnight_s(day: date, tz_name: str) -> int:
    """Start of a local day computed independently of the code under test."""
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz_name)).timestamp())


def grid_points(start_s: int, end_s: int, interval_s: int, value: int = 1) -> list[IntervalPoint]:
    """Every grid point k * interval_s in [start_s, end_s), by enumeration."""
    first = start_s + (-start_s) % interval_s
    return [IntervalPoint(s, value, 0) for s in range(first, end_s, interval_s)]


def independent_day(epoch_s: int, tz_name: str) -> date:
    return datetime.fromtimestamp(epoch_s, tz=ZoneInfo(tz_name)).date()


def utc_offset_s(day: date, tz_name: str) -> int:
    """The UTC offset in force at local midnight (Berlin's transitions are at 02:00/03:00)."""
    offset = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz_name)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def test_tokyo_reading_at_15z_belongs_to_the_next_local_day() -> None:
    """Asia/Tokyo is UTC+9: 15:00Z is 00:00 local of the next day, 14:30Z still the same day."""
    day = date(2024, 6, 10)
    before = IntervalPoint(utc_s(2024, 6, 10, 14, 30), 7, 0)
    at = IntervalPoint(utc_s(2024, 6, 10, 15, 0), 11, 0)
    totals = {
        t.day: t
        for t in aggregate_days([before, at], HALF_HOUR, "Asia/Tokyo", day, day + timedelta(days=1))
    }
    assert (totals[day].value_sum, totals[day].present) == (before.value, 1)
    nxt = day + timedelta(days=1)
    assert (totals[nxt].value_sum, totals[nxt].present) == (at.value, 1)
    assert local_day_of(at.start_s, ZoneInfo("Asia/Tokyo")) == nxt
    assert local_day_bounds(nxt, ZoneInfo("Asia/Tokyo"))[0] == at.start_s


def test_tokyo_every_interval_lands_in_its_local_day() -> None:
    """A week of half-hourly readings: each local day is complete with 86400/1800 intervals."""
    tz = "Asia/Tokyo"
    first, last = date(2024, 1, 1), date(2024, 1, 7)
    points = grid_points(
        local_midnight_s(first, tz), local_midnight_s(last + timedelta(days=1), tz), HALF_HOUR
    )
    totals = aggregate_days(points, HALF_HOUR, tz, first, last)
    assert [t.day for t in totals] == [first + timedelta(days=i) for i in range(7)]
    for t in totals:
        assert t.expected == DAY_S // HALF_HOUR
        assert t.present == t.expected and t.complete
    counted = Counter(independent_day(p.start_s, tz) for p in points)
    assert {t.day: t.present for t in totals} == dict(counted)


def test_berlin_dst_days_have_46_and_50_half_hours() -> None:
    """Europe/Berlin: spring-forward day has 23 h (46 half-hours), fall-back day 25 h (50)."""
    tz = "Europe/Berlin"
    first, last = date(2024, 1, 1), date(2024, 12, 31)
    totals = aggregate_days([], HALF_HOUR, tz, first, last)
    odd = {}
    for t in totals:
        shift = utc_offset_s(t.day + timedelta(days=1), tz) - utc_offset_s(t.day, tz)
        # The day's length is 24 h minus the change of the UTC offset during it.
        assert t.expected == (DAY_S - shift) // HALF_HOUR
        if shift:
            odd[t.day] = t.expected
    spring = [d for d, n in odd.items() if n < DAY_S // HALF_HOUR]
    autumn = [d for d, n in odd.items() if n > DAY_S // HALF_HOUR]
    assert len(spring) == len(autumn) == 1
    assert odd[spring[0]] == 23 * HOUR // HALF_HOUR == 46
    assert odd[autumn[0]] == 25 * HOUR // HALF_HOUR == 50
    assert spring[0].month == 3 and autumn[0].month == 10


def test_berlin_dst_days_are_complete_with_every_interval() -> None:
    """All readings of the DST days arrive: both days are complete, nothing double counted."""
    tz = "Europe/Berlin"
    for day in (date(2024, 3, 31), date(2024, 10, 27)):
        start, end = local_midnight_s(day, tz), local_midnight_s(day + timedelta(days=1), tz)
        points = grid_points(start - DAY_S, end + DAY_S, HALF_HOUR)
        [total] = aggregate_days(points, HALF_HOUR, tz, day, day)
        assert total.present == total.expected == (end - start) // HALF_HOUR
        assert total.value_sum == total.present
        assert total.complete


def test_kolkata_half_hour_offset_with_hourly_intervals() -> None:
    """Asia/Kolkata (UTC+5:30), hourly grid on the UTC hour: each local day has 24 grid points."""
    tz = "Asia/Kolkata"
    first, last = date(2024, 2, 27), date(2024, 3, 2)
    start, end = local_midnight_s(first, tz), local_midnight_s(last + timedelta(days=1), tz)
    assert start % HOUR == HOUR // 2  # local midnight is half-way between two grid points
    points = grid_points(start - DAY_S, end + DAY_S, HOUR)
    totals = aggregate_days(points, HOUR, tz, first, last)
    for t in totals:
        day_start, day_end = local_day_bounds(t.day, ZoneInfo(tz))
        enumerated = len(grid_points(day_start, day_end, HOUR))
        assert t.expected == enumerated == DAY_S // HOUR
        assert t.present == t.expected
    # 18:00Z is 23:30 local (same day), 19:00Z is 00:30 local (next day).
    assert local_day_of(utc_s(2024, 2, 27, 18), ZoneInfo(tz)) == date(2024, 2, 27)
    assert local_day_of(utc_s(2024, 2, 27, 19), ZoneInfo(tz)) == date(2024, 2, 28)


@pytest.mark.parametrize(
    ("tz", "interval_s"),
    [
        ("Asia/Tokyo", HALF_HOUR),
        ("Europe/Berlin", HALF_HOUR),
        ("Europe/Berlin", 900),
        ("Asia/Kolkata", HOUR),
        ("Asia/Kathmandu", HOUR),  # UTC+5:45
        ("Australia/Lord_Howe", HOUR),  # 30-minute DST shift
        ("America/Santiago", HOUR),  # DST transitions at local midnight
        ("America/Havana", HALF_HOUR),  # DST transitions at local midnight
        ("Pacific/Chatham", HOUR),  # UTC+12:45 / +13:45
    ],
)
def test_expected_intervals_count_the_grid_points_of_each_day(tz: str, interval_s: int) -> None:
    """Over a whole year, every day's expected count equals the grid points that fall in it."""
    first, last = date(2024, 1, 1), date(2024, 12, 31)
    start, end = local_midnight_s(first, tz), local_midnight_s(last + timedelta(days=1), tz)
    points = grid_points(start, end, interval_s)
    totals = aggregate_days(points, interval_s, tz, first, last)
    per_day = Counter(independent_day(p.start_s, tz) for p in points)
    assert len(totals) == (last - first).days + 1
    for t in totals:
        assert t.present == per_day[t.day], t.day
        assert t.expected == t.present, t.day
    assert sum(t.expected for t in totals) == len(points)
    # Consecutive days tile the time line without gap or overlap.
    zone = ZoneInfo(tz)
    for t in totals[:-1]:
        assert (
            local_day_bounds(t.day, zone)[1] == local_day_bounds(t.day + timedelta(days=1), zone)[0]
        )


@given(
    start=st.integers(min_value=-(10**10), max_value=10**10),
    length=st.integers(min_value=0, max_value=3 * DAY_S),
    interval_s=st.sampled_from([d for d in range(60, DAY_S + 1) if DAY_S % d == 0]),
)
def test_expected_intervals_equals_enumeration(start: int, length: int, interval_s: int) -> None:
    """expected_intervals counts the multiples of the interval in [start, end), also before 1970."""
    end = start + length
    assert expected_intervals(start, end, interval_s) == len(grid_points(start, end, interval_s))


def _day_points() -> list[IntervalPoint]:
    tz = "Europe/Berlin"
    start = local_midnight_s(date(2024, 10, 26), tz)
    end = local_midnight_s(date(2024, 10, 29), tz)
    return [
        IntervalPoint(p.start_s, (p.start_s // HALF_HOUR) % 97, int(p.start_s % 7 == 0))
        for p in grid_points(start, end, HALF_HOUR)
    ]


DAY_POINTS = _day_points()


@settings(max_examples=50, deadline=None)
@given(
    order=st.permutations(DAY_POINTS),
    keep=st.lists(st.booleans(), min_size=len(DAY_POINTS), max_size=len(DAY_POINTS)),
)
def test_aggregate_days_is_invariant_to_arrival_order(
    order: list[IntervalPoint], keep: list[bool]
) -> None:
    """The same readings (any subset) in any order give the same day totals."""
    subset = {p for p, k in zip(DAY_POINTS, keep, strict=True) if k}
    args = (HALF_HOUR, "Europe/Berlin", date(2024, 10, 26), date(2024, 10, 28))
    in_order = aggregate_days([p for p in DAY_POINTS if p in subset], *args)
    shuffled = aggregate_days([p for p in order if p in subset], *args)
    assert shuffled == in_order
    assert sum(t.present for t in in_order) == len(subset)
    assert sum(t.value_sum for t in in_order) == sum(p.value for p in subset)


def test_days_without_data_are_included_and_not_complete() -> None:
    """Every day in [first, last] has a total; a day without readings is zero of expected."""
    first, last = date(2024, 5, 1), date(2024, 5, 5)
    tz = "Asia/Tokyo"
    only = grid_points(
        local_midnight_s(date(2024, 5, 3), tz),
        local_midnight_s(date(2024, 5, 3), tz) + HOUR,
        HALF_HOUR,
    )
    totals = aggregate_days(only, HALF_HOUR, tz, first, last)
    assert [t.day for t in totals] == [first + timedelta(days=i) for i in range(5)]
    for t in totals:
        assert t.expected == DAY_S // HALF_HOUR
        assert not t.complete
        assert t.present == (len(only) if t.day == date(2024, 5, 3) else 0)


def test_points_outside_the_range_are_ignored() -> None:
    """Readings of days outside [first, last] do not leak into the edge days."""
    tz = "Asia/Tokyo"
    day = date(2024, 5, 3)
    points = grid_points(
        local_midnight_s(day, tz) - DAY_S, local_midnight_s(day, tz) + 2 * DAY_S, HALF_HOUR
    )
    [total] = aggregate_days(points, HALF_HOUR, tz, day, day)
    assert total.present == total.expected == DAY_S // HALF_HOUR


def test_corrected_flag_set_by_any_revision() -> None:
    """A day is 'corrected' as soon as one of its intervals is a later revision."""
    tz = "Asia/Tokyo"
    day = date(2024, 5, 3)
    points = grid_points(local_midnight_s(day, tz), local_midnight_s(day, tz) + DAY_S, HALF_HOUR)
    [plain] = aggregate_days(points, HALF_HOUR, tz, day, day)
    assert not plain.corrected
    points[5] = IntervalPoint(points[5].start_s, points[5].value + 3, 2)
    [fixed] = aggregate_days(points, HALF_HOUR, tz, day, day)
    assert fixed.corrected
    assert fixed.value_sum == plain.value_sum + 3


def test_mean_temperature_needs_half_of_the_intervals() -> None:
    """mean_temperature_c: mean in degrees C from hundredths; None below 50% coverage."""
    for expected in (48, 46, 50, 23, 1):
        needed = -(-expected // 2)  # ceil(expected / 2): at least half
        values = [1234 + 17 * i for i in range(needed)]
        enough = DayTotal(date(2024, 1, 1), sum(values), needed, expected, False)
        assert mean_temperature_c(enough) == pytest.approx(sum(values) / needed / 100)
        short = DayTotal(date(2024, 1, 1), sum(values[:-1]), needed - 1, expected, False)
        assert mean_temperature_c(short) is None
    assert mean_temperature_c(DayTotal(date(2024, 1, 1), 0, 0, 0, False)) is None
    negative = DayTotal(date(2024, 1, 1), -250 * 48, 48, 48, False)
    assert mean_temperature_c(negative) == pytest.approx(-2.5)


def test_day_total_complete_means_all_expected_intervals() -> None:
    """complete is present >= expected."""
    assert DayTotal(date(2024, 1, 1), 0, 48, 48, False).complete
    assert not DayTotal(date(2024, 1, 1), 0, 47, 48, False).complete
