"""Bond roll-ups (``bond_asset_month``): each bond's share of an asset's month, written with the
month's results, built for late allocations, verified against the day results, summed into a
bond's totals.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import upsert
from app.impact.models import (
    BondAssetMonth,
    BondRollupBuilt,
    ImpactResult,
)
from app.impact.resolution import fit_of_record
from app.impact.result_rows import latest_results, to_period_result
from app.impact.schemas import (
    BondPeriodImpact,
)
from app.pure.calc.results import (
    AttributedTotals,
    attributed_totals,
    next_month,
    period_uncertainty_wh,
    uncertainty_basis,
    uncertainty_days,
)
from app.pure.calc.uncertainty import attributed_uncertainty_wh, combined_uncertainty_wh
from app.registry import service as registry
from app.registry.models import Allocation


def roll_up_month(
    session: Session,
    asset_id: int,
    month: date,
    days: Sequence[ImpactResult],
    allocations: Sequence[Allocation],
) -> None:
    """Write the month's ``bond_asset_month`` rows for these allocations of the asset, from the
    month's day results (latest revisions, in day order)."""
    for allocation in allocations:
        issued = registry.get_bond(session, allocation.bond_id).issue_date
        values = _rollup_values(days, allocation, issued)
        key = {"bond_id": allocation.bond_id, "asset_id": asset_id, "month_start": month}
        session.execute(
            upsert(session, BondAssetMonth.__table__)
            .values(**key, **values)
            .on_conflict_do_update(index_elements=list(key), set_=values)
        )


ATTRIBUTED_FIELDS = (
    "reduction_wh",
    "co2_avoided_g",
    "attributed_reduction_wh",
    "attributed_co2_avoided_g",
    "days",
    "provisional_days",
)
ROLLUP_FIELDS = (
    *ATTRIBUTED_FIELDS,
    "uncertainty_days",
    "uncertainty_benchmark_wh",
    "uncertainty_fit_id",
)


def _rollup_values(
    rows: Sequence[ImpactResult], allocation: Allocation, issued: date
) -> dict[str, int | None]:
    """A ``bond_asset_month`` row's figures: the month's day results (latest revisions, in day
    order) from the bond's issue date on, attributed by the allocation's financing share."""
    since_issue = [r for r in rows if r.period_start >= issued]
    days = [to_period_result(r) for r in since_issue]
    totals = attributed_totals(days, allocation.financing_share)
    counted = uncertainty_days(days)
    stating = [r for r in since_issue if r.savings_uncertainty_68_wh is not None]
    return {
        **{name: getattr(totals, name) for name in ATTRIBUTED_FIELDS},
        "uncertainty_days": counted.days,
        "uncertainty_benchmark_wh": counted.benchmark_wh,
        "uncertainty_fit_id": stating[-1].baseline_fit_id if stating else None,
    }


@dataclass(frozen=True)
class RollupMismatch:
    """A ``bond_asset_month`` row that is not what the day results give (``found`` None: the
    row is missing; ``expected`` None: the row should not exist)."""

    bond_id: int
    asset_id: int
    month_start: date
    field: str
    expected: int | None
    found: int | None


def verify_rollups(session: Session, limit: int = 100) -> tuple[int, list[RollupMismatch]]:
    """Recompute every bond roll-up row from the day results it summarises and compare.
    Returns (rows checked, the first ``limit`` mismatches). Two queries per asset; O(day
    results), not O(readings)."""
    built = set(session.scalars(select(BondRollupBuilt.allocation_id)))
    allocations: dict[int, list[Allocation]] = defaultdict(list)
    for each in registry.list_all_allocations(session):
        allocations[each.asset_id].append(each)
    issue_dates: dict[int, date] = {}
    stored: dict[int, dict[tuple[int, date], Any]] = defaultdict(dict)
    for stored_row in session.scalars(select(BondAssetMonth)):
        stored[stored_row.asset_id][(stored_row.bond_id, stored_row.month_start)] = stored_row
    checked = 0
    mismatches: list[RollupMismatch] = []
    for asset_id in sorted(set(allocations) | set(stored)):
        latest: dict[date, ImpactResult] = {}
        month_starts: set[date] = set()
        for result in session.scalars(
            select(ImpactResult).where(
                ImpactResult.asset_id == asset_id, ImpactResult.period.in_(("day", "month"))
            )
        ):
            if result.period == "month":
                month_starts.add(result.period_start)
                continue
            current = latest.get(result.period_start)
            if current is None or result.revision > current.revision:
                latest[result.period_start] = result
        days_of: dict[date, list[ImpactResult]] = defaultdict(list)
        for day in sorted(latest):
            days_of[day.replace(day=1)].append(latest[day])
        rows = stored.get(asset_id, {})
        by_bond = {a.bond_id: a for a in allocations.get(asset_id, [])}
        expected_keys = {
            (a.bond_id, month) for a in by_bond.values() if a.id in built for month in month_starts
        }
        for key in sorted(set(rows) | expected_keys):
            bond_id, month = key
            row = rows.get(key)
            allocation = by_bond.get(bond_id)
            checked += 1
            if allocation is None:
                mismatches.append(RollupMismatch(bond_id, asset_id, month, "row", None, 1))
                continue
            if bond_id not in issue_dates:
                issue_dates[bond_id] = registry.get_bond(session, bond_id).issue_date
            expected = _rollup_values(days_of.get(month, []), allocation, issue_dates[bond_id])
            if row is None:
                mismatches.append(RollupMismatch(bond_id, asset_id, month, "row", 1, None))
                continue
            for name in ROLLUP_FIELDS:
                if getattr(row, name) != expected[name]:
                    mismatches.append(
                        RollupMismatch(
                            bond_id, asset_id, month, name, expected[name], getattr(row, name)
                        )
                    )
        if len(mismatches) >= limit:
            break
    return checked, mismatches[:limit]


def build_new_allocation_rollups(session: Session) -> int:
    """Roll up the months an asset already has for allocations created since the last pass.
    Returns the allocations rolled up."""
    built_count = session.scalar(select(func.count()).select_from(BondRollupBuilt)) or 0
    if registry.count_allocations(session) == built_count:
        return 0  # every job pass asks; almost always nothing is new
    built = set(session.scalars(select(BondRollupBuilt.allocation_id)))
    new = [a for a in registry.list_all_allocations(session) if a.id not in built]
    for allocation in new:
        months = session.scalars(
            select(ImpactResult.period_start)
            .where(ImpactResult.asset_id == allocation.asset_id, ImpactResult.period == "month")
            .distinct()
        )
        for month in months:
            span = (next_month(month) - month).days
            day_rows = latest_results(
                session,
                allocation.asset_id,
                "day",
                [month + timedelta(days=i) for i in range(span)],
            )
            days = [day_rows[d] for d in sorted(day_rows)]
            roll_up_month(session, allocation.asset_id, month, days, [allocation])
        session.add(BondRollupBuilt(allocation_id=allocation.id))
    session.commit()
    return len(new)


def _rollup_sums() -> tuple[Any, ...]:
    return (
        func.sum(BondAssetMonth.reduction_wh),
        func.sum(BondAssetMonth.co2_avoided_g),
        func.sum(BondAssetMonth.attributed_reduction_wh),
        func.sum(BondAssetMonth.attributed_co2_avoided_g),
        func.sum(BondAssetMonth.days),
        func.sum(BondAssetMonth.provisional_days),
    )


Uncertainty = tuple[int, int]  # +- Wh at 68 % and 90 % confidence


def attributed_uncertainty(
    per_asset: Iterable[tuple[Uncertainty | None, Decimal]],
) -> Uncertainty | None:
    """A bond's uncertainty from its assets' (each with the bond's financing share of it): each
    attributed, then combined in quadrature (independent baselines); None when none has one."""
    stated = [(u, share) for u, share in per_asset if u is not None]
    if not stated:
        return None
    return (
        combined_uncertainty_wh(attributed_uncertainty_wh(u[0], share) for u, share in stated),
        combined_uncertainty_wh(attributed_uncertainty_wh(u[1], share) for u, share in stated),
    )


def _rows_uncertainty(session: Session, rows: Sequence[BondAssetMonth]) -> Uncertainty | None:
    """One asset's uncertainty over these roll-up months: their stating days evaluated together
    with the fit of the latest of them (rows in month order)."""
    stating = [r for r in rows if r.uncertainty_days > 0]
    if not stating:
        return None
    basis = uncertainty_basis(fit_of_record(session, stating[-1].uncertainty_fit_id))
    return period_uncertainty_wh(
        basis,
        sum(r.uncertainty_days for r in stating),
        sum(r.uncertainty_benchmark_wh for r in stating),
    )


def bond_uncertainty(
    session: Session, bond_id: int, first: date | None = None, last: date | None = None
) -> Uncertainty | None:
    """The bond's attributed savings uncertainty over the months from ``first`` to ``last``
    (default: since issuance): per asset over all its stating days, then combined."""
    query = select(BondAssetMonth).where(BondAssetMonth.bond_id == bond_id)
    if first is not None:
        query = query.where(BondAssetMonth.month_start >= first.replace(day=1))
    if last is not None:
        query = query.where(BondAssetMonth.month_start <= last)
    by_asset: dict[int, list[BondAssetMonth]] = defaultdict(list)
    for row in session.scalars(query.order_by(BondAssetMonth.month_start)):
        by_asset[row.asset_id].append(row)
    shares = _shares(session, bond_id)
    return attributed_uncertainty(
        (_rows_uncertainty(session, rows), shares[asset_id]) for asset_id, rows in by_asset.items()
    )


def _shares(session: Session, bond_id: int) -> dict[int, Decimal]:
    return {a.asset_id: a.financing_share for a in registry.allocations_of_bond(session, bond_id)}


def bond_months(
    session: Session, bond_id: int, first: date, last: date | None
) -> list[BondPeriodImpact]:
    query = select(BondAssetMonth.month_start, *_rollup_sums()).where(
        BondAssetMonth.bond_id == bond_id,
        BondAssetMonth.month_start >= first.replace(day=1),
        BondAssetMonth.days > 0,
    )
    if last is not None:
        query = query.where(BondAssetMonth.month_start <= last)
    rows = session.execute(
        query.group_by(BondAssetMonth.month_start).order_by(BondAssetMonth.month_start)
    )
    months = list(rows)
    uncertainty = {month: bond_uncertainty(session, bond_id, month, month) for month, *_ in months}
    return [
        BondPeriodImpact(
            period_start=month,
            assets_reduction_wh=int(r),
            assets_co2_avoided_g=int(g),
            attributed_reduction_wh=int(ar),
            attributed_co2_avoided_g=int(ag),
            final=int(provisional) == 0,
            attributed_savings_uncertainty_68_wh=uncertainty_level(uncertainty[month], 0),
            attributed_savings_uncertainty_90_wh=uncertainty_level(uncertainty[month], 1),
        )
        for month, r, g, ar, ag, _, provisional in months
    ]


def uncertainty_level(uncertainty: Uncertainty | None, index: int) -> int | None:
    return None if uncertainty is None else uncertainty[index]


def bond_totals(session: Session, bond_id: int) -> AttributedTotals:
    """The bond's figures since issuance, from the monthly roll-ups (one aggregate query)."""
    registry.get_bond(session, bond_id)
    row = session.execute(select(*_rollup_sums()).where(BondAssetMonth.bond_id == bond_id)).one()
    r, g, ar, ag, days, provisional = (int(v or 0) for v in row)
    return AttributedTotals(r, g, ar, ag, days, provisional)
