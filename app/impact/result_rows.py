"""Stored impact results read back: the latest revision per period, a stored row as the pure
core's PeriodResult, ids by asset, and the period arithmetic the stores share.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.impact.models import (
    ImpactResult,
)
from app.pure.calc.results import (
    PeriodResult,
)

FIGURES = (
    "final",
    "metered_wh",
    "benchmark_wh",
    "reduction_wh",
    "co2_avoided_g",
    "intervals_present",
    "intervals_expected",
    "flags",
    "method",
    "method_version",
    "benchmark_config_id",
    "baseline_fit_id",
    "factor_ids",
)


def row_values(result: PeriodResult, config_id: int, fit_id: int | None) -> dict[str, object]:
    return {
        "final": result.final,
        "metered_wh": result.metered_wh,
        "benchmark_wh": result.benchmark_wh,
        "reduction_wh": result.reduction_wh,
        "co2_avoided_g": result.co2_avoided_g,
        "intervals_present": result.intervals_present,
        "intervals_expected": result.intervals_expected,
        "flags": ",".join(result.flags),
        "method": result.method,
        "method_version": result.method_version,
        "benchmark_config_id": config_id,
        "baseline_fit_id": fit_id,
        "factor_ids": ",".join(str(i) for i in result.factor_ids),
    }


def latest_results(
    session: Session, asset_id: int, period: str, starts: Iterable[date]
) -> dict[date, ImpactResult]:
    starts = sorted(set(starts))
    if not starts:
        return {}
    latest: dict[date, ImpactResult] = {}
    for row in session.scalars(
        select(ImpactResult).where(
            ImpactResult.asset_id == asset_id,
            ImpactResult.period == period,
            ImpactResult.period_start >= starts[0],
            ImpactResult.period_start <= starts[-1],
        )
    ):
        current = latest.get(row.period_start)
        if current is None or row.revision > current.revision:
            latest[row.period_start] = row
    return latest


def to_period_result(row: ImpactResult) -> PeriodResult:
    return PeriodResult(
        period=row.period,
        period_start=row.period_start,
        metered_wh=row.metered_wh,
        benchmark_wh=row.benchmark_wh,
        reduction_wh=row.reduction_wh,
        co2_avoided_g=row.co2_avoided_g,
        intervals_present=row.intervals_present,
        intervals_expected=row.intervals_expected,
        flags=tuple(f for f in row.flags.split(",") if f),
        method=row.method,
        method_version=row.method_version,
        factor_ids=tuple(int(i) for i in row.factor_ids.split(",") if i),
        final=row.final,
    )


def closed(period_end_local: date, tz: ZoneInfo, grace: timedelta, now: datetime) -> bool:
    """A period is closed (its results final) once its end plus the grace time has passed."""
    return datetime.combine(period_end_local, time(), tz) + grace <= now


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def result_ids_of_asset(session: Session, asset_id: int, period: str) -> list[int]:
    return list(
        session.scalars(
            select(ImpactResult.id).where(
                ImpactResult.asset_id == asset_id, ImpactResult.period == period
            )
        )
    )


def results_by_ids(session: Session, ids: list[int]) -> dict[int, ImpactResult]:
    return {r.id: r for r in session.scalars(select(ImpactResult).where(ImpactResult.id.in_(ids)))}
