"""Meter-day totals: each meter's readings summed per local day of its asset (the input of
every day result), rebuilt when readings change.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import upsert
from app.impact.models import (
    MeterDay,
)
from app.ingest import service as ingest
from app.pure.calc.days import DayTotal, IntervalPoint, aggregate_days, sum_days
from app.registry.models import Meter


def local_days_of_utc_day(utc_day: date, tz: ZoneInfo) -> set[date]:
    start = datetime.combine(utc_day, time(), UTC)
    return {
        start.astimezone(tz).date(),
        (start + timedelta(days=1, seconds=-1)).astimezone(tz).date(),
    }


def rebuild_meter_days(session: Session, meter: Meter, tz_name: str, days: Iterable[date]) -> None:
    """Recompute the meter's daily totals for these local days from its latest readings."""
    tz = ZoneInfo(tz_name)
    ordered = sorted(set(days))
    rows = []
    for first, last in consecutive_runs(ordered):
        start = datetime.combine(first, time(), tz)
        end = datetime.combine(last + timedelta(days=1), time(), tz)
        points = [
            IntervalPoint(s, v, r, a)
            for s, v, r, a in ingest.latest_values(session, meter.id, start, end)
        ]
        for total in aggregate_days(points, meter.interval_s, tz_name, first, last):
            rows.append(
                {
                    "meter_id": meter.id,
                    "day": total.day,
                    "value_sum": total.value_sum,
                    "present": total.present,
                    "expected": total.expected,
                    "corrected": total.corrected,
                    "attested": total.attested,
                }
            )
    if rows:
        statement = upsert(session, MeterDay)
        statement = statement.on_conflict_do_update(
            index_elements=["meter_id", "day"],
            set_={
                c: statement.excluded[c]
                for c in ("value_sum", "present", "expected", "corrected", "attested")
            },
        )
        session.execute(statement, rows)


def consecutive_runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Consecutive runs of sorted days: [(first, last), ...]."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def day_totals(
    session: Session, meters: Sequence[Meter], tz_name: str, first: date, last: date
) -> list[DayTotal]:
    """Summed daily totals of ``meters`` for every day in [first, last]; a day a meter never
    reported counts its expected intervals as missing."""
    stored: dict[tuple[int, date], MeterDay] = {
        (row.meter_id, row.day): row
        for row in session.scalars(
            select(MeterDay).where(
                MeterDay.meter_id.in_([m.id for m in meters]),
                MeterDay.day >= first,
                MeterDay.day <= last,
            )
        )
    }
    empty_by_meter = {m.id: aggregate_days([], m.interval_s, tz_name, first, last) for m in meters}
    totals: list[DayTotal] = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        of_meters = []
        for m in meters:
            empty = empty_by_meter[m.id][offset]  # the intervals the day has, none present
            row = stored.get((m.id, day))
            of_meters.append(
                empty
                if row is None
                else DayTotal(
                    day, row.value_sum, row.present, empty.expected, row.corrected, row.attested
                )
            )
        totals.append(sum_days(day, of_meters))
    return totals
