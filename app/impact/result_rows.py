"""Stored impact results: a PeriodResult as a row's values and a row read back as one, the latest
revision per period, ids by asset, and when a period is closed.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.impact.models import (
    ImpactResult,
)
from app.pure.calc import results
from app.pure.calc.results import PeriodResult

# The columns a stored revision states (a final row whose values differ gets a new revision):
# the result's figures, whether it is final, and what it was computed with.
FIGURES = ("final", *results.FIGURES, "benchmark_config_id", "baseline_fit_id")


def row_values(result: PeriodResult, config_id: int, fit_id: int | None) -> dict[str, object]:
    """The ``FIGURES`` columns of a stored result (flags and factor ids comma-separated)."""
    figures = {name: getattr(result, name) for name in results.FIGURES}
    return {
        **figures,
        "final": result.final,
        "flags": ",".join(result.flags),
        "factor_ids": ",".join(str(i) for i in result.factor_ids),
        "benchmark_config_id": config_id,
        "baseline_fit_id": fit_id,
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
    """A stored result as the pure core's PeriodResult (the inverse of ``row_values``)."""
    figures: dict[str, Any] = {name: getattr(row, name) for name in results.FIGURES}
    figures["flags"] = tuple(f for f in row.flags.split(",") if f)
    figures["factor_ids"] = tuple(int(i) for i in row.factor_ids.split(",") if i)
    return PeriodResult(
        period=row.period, period_start=row.period_start, final=row.final, **figures
    )


def closed(period_end_local: date, tz: ZoneInfo, grace: timedelta, now: datetime) -> bool:
    """A period is closed (its results final) once its end plus the grace time has passed."""
    return datetime.combine(period_end_local, time(), tz) + grace <= now


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
