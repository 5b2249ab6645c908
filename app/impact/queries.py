"""Read queries over results: an asset's results by period, the investor series rows, a bond's
impact per period.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from app.core.db import in_ids
from app.impact.models import (
    ImpactResult,
)
from app.impact.rollups import attributed_uncertainty, bond_months, uncertainty_level
from app.impact.schemas import (
    BondPeriodImpact,
)
from app.pure.calc.results import (
    attribute,
)
from app.registry import service as registry


def _asset_periods(
    query: Select[Any], asset_id: int, period: str, first: date | None, last: date | None
) -> Select[Any]:
    """The asset's results of that period kind in [first, last], by period and revision."""
    query = query.where(ImpactResult.asset_id == asset_id, ImpactResult.period == period)
    if first is not None:
        query = query.where(ImpactResult.period_start >= first)
    if last is not None:
        query = query.where(ImpactResult.period_start <= last)
    return query.order_by(ImpactResult.period_start, ImpactResult.revision)


def list_results(
    session: Session,
    asset_id: int,
    period: str,
    first: date | None,
    last: date | None,
    all_revisions: bool,
) -> list[ImpactResult]:
    registry.get_asset(session, asset_id)
    query = _asset_periods(select(ImpactResult), asset_id, period, first, last)
    rows = list(session.scalars(query))
    if all_revisions:
        return rows
    latest: dict[date, ImpactResult] = {}
    for row in rows:
        latest[row.period_start] = row
    return list(latest.values())


SERIES_COLUMNS = (
    ImpactResult.id,
    ImpactResult.period_start,
    ImpactResult.revision,
    ImpactResult.final,
    ImpactResult.metered_wh,
    ImpactResult.benchmark_wh,
    ImpactResult.reduction_wh,
    ImpactResult.co2_avoided_g,
    ImpactResult.intervals_present,
    ImpactResult.intervals_expected,
    ImpactResult.flags,
    ImpactResult.method,
    ImpactResult.savings_uncertainty_68_wh,
    ImpactResult.savings_uncertainty_90_wh,
)


def series_rows(
    session: Session, asset_id: int, period: str, first: date | None, last: date | None
) -> list[Row[Any]]:
    """The latest revision per period, only the columns a series shows (plain rows: a one-year
    daily series is read on every investor page view)."""
    registry.get_asset(session, asset_id)
    query = _asset_periods(select(*SERIES_COLUMNS), asset_id, period, first, last)
    latest: dict[date, Row[Any]] = {}
    for row in session.execute(query):
        latest[row.period_start] = row
    return list(latest.values())


def bond_impact(
    session: Session, bond_id: int, period: str, first: date | None, last: date | None
) -> list[BondPeriodImpact]:
    """Per period from the bond's issue date on: the assets' totals and the bond's attributed
    share (pro-rata to its share of each asset's financing, each day rounded toward zero)."""
    issued = registry.get_bond(session, bond_id).issue_date
    first = issued if first is None else max(first, issued)
    if period == "month":
        return bond_months(session, bond_id, first, last)
    shares = {a.asset_id: a.financing_share for a in registry.allocations_of_bond(session, bond_id)}
    query = select(
        ImpactResult.asset_id,
        ImpactResult.period_start,
        ImpactResult.reduction_wh,
        ImpactResult.co2_avoided_g,
        ImpactResult.final,
        ImpactResult.savings_uncertainty_68_wh,
        ImpactResult.savings_uncertainty_90_wh,
    ).where(
        in_ids(session, ImpactResult.asset_id, list(shares)),
        ImpactResult.period == period,
        ImpactResult.period_start >= first,
    )
    if last is not None:
        query = query.where(ImpactResult.period_start <= last)
    latest: dict[tuple[int, date], Row[Any]] = {}  # one query for all the bond's assets
    for row in session.execute(query.order_by(ImpactResult.revision)):
        latest[(row.asset_id, row.period_start)] = row
    totals: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 1])
    uncertainties: dict[date, list[tuple[tuple[int, int] | None, Decimal]]] = defaultdict(list)
    for (asset_id, start), row in latest.items():
        stated = row.savings_uncertainty_68_wh is not None
        uncertainties[start].append(
            (
                (row.savings_uncertainty_68_wh, row.savings_uncertainty_90_wh) if stated else None,
                shares[asset_id],
            )
        )
        acc = totals[start]
        acc[0] += row.reduction_wh or 0
        acc[1] += row.co2_avoided_g or 0
        acc[2] += attribute(row.reduction_wh, shares[asset_id]) or 0
        acc[3] += attribute(row.co2_avoided_g, shares[asset_id]) or 0
        acc[4] &= int(row.final)
    return [
        BondPeriodImpact(
            period_start=start,
            assets_reduction_wh=acc[0],
            assets_co2_avoided_g=acc[1],
            attributed_reduction_wh=acc[2],
            attributed_co2_avoided_g=acc[3],
            final=bool(acc[4]),
            attributed_savings_uncertainty_68_wh=uncertainty_level(
                attributed_uncertainty(uncertainties[start]), 0
            ),
            attributed_savings_uncertainty_90_wh=uncertainty_level(
                attributed_uncertainty(uncertainties[start]), 1
            ),
        )
        for start, acc in sorted(totals.items())
    ]
