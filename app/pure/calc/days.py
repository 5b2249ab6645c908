"""Interval readings -> totals per local day of the site. Pure: no I/O, no clock.

A site's day is its local calendar day (the asset's IANA time zone), because that is the day its
occupants, its benchmark and its investors reason in. An interval belongs to the local day that
contains its start. The number of intervals a day should have is counted, not assumed, so days of
23 or 25 hours (daylight saving) and zones with half-hour offsets come out right.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class IntervalPoint:
    start_s: int
    value: int
    revision: int
    attested: bool = False  # from an issuer's import, not signed by the device


@dataclass(frozen=True)
class DayTotal:
    day: date
    value_sum: int
    present: int
    expected: int
    corrected: bool
    attested: bool = False  # some of the day's data comes from an issuer's import

    @property
    def complete(self) -> bool:
        """Every expected interval reported. A day that expects none (a daily meter on a day
        whose local midnight was skipped by a clock change) is never complete: it has no data."""
        return self.expected > 0 and self.present >= self.expected


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a local calendar day, in Unix seconds."""
    start = datetime.combine(day, time(), tz)
    end = datetime.combine(day + timedelta(days=1), time(), tz)
    return int(start.timestamp()), int(end.timestamp())


def local_day_of(epoch_s: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch_s, UTC).astimezone(tz).date()


def expected_intervals(start_s: int, end_s: int, interval_s: int) -> int:
    """Grid points k * interval_s (the meters' grid) in [start_s, end_s)."""
    first = -(-start_s // interval_s)
    last = -(-end_s // interval_s)
    return last - first


def aggregate_days(
    points: Iterable[IntervalPoint], interval_s: int, tz_name: str, first: date, last: date
) -> list[DayTotal]:
    """One total per local day in [first, last] (inclusive), days without data included.

    ``points`` must hold one point per interval (the latest revision); the result does not
    depend on their order.
    """
    tz = ZoneInfo(tz_name)
    sums: dict[date, list[int]] = {}
    for p in points:
        acc = sums.setdefault(local_day_of(p.start_s, tz), [0, 0, 0, 0])
        acc[0] += p.value
        acc[1] += 1
        acc[2] |= p.revision > 0
        acc[3] |= p.attested
    days = []
    day = first
    while day <= last:
        start_s, end_s = local_day_bounds(day, tz)
        value_sum, present, corrected, attested = sums.get(day, (0, 0, 0, 0))
        days.append(
            DayTotal(
                day,
                value_sum,
                present,
                expected_intervals(start_s, end_s, interval_s),
                bool(corrected),
                bool(attested),
            )
        )
        day += timedelta(days=1)
    return days


def sum_days(day: date, totals: Iterable[DayTotal]) -> DayTotal:
    """Several meters' totals of one day as one (an asset's meters of one quantity): values and
    intervals add up, and the day is corrected (issuer-attested) if any meter's is."""
    value_sum = present = expected = 0
    corrected = attested = False
    for total in totals:
        value_sum += total.value_sum
        present += total.present
        expected += total.expected
        corrected |= total.corrected
        attested |= total.attested
    return DayTotal(day, value_sum, present, expected, corrected, attested)


def mean_temperature_c(total: DayTotal, min_coverage: float = 0.5) -> float | None:
    """Mean of a day's temperature readings (hundredths of a degree C) in degrees C; None when
    fewer than ``min_coverage`` of the day's intervals reported."""
    if total.expected == 0 or total.present < min_coverage * total.expected:
        return None
    return total.value_sum / total.present / 100
