"""The report's pure rules: attribution in integer arithmetic equals the Decimal rule, periods,
closure, and the per-project figures against a direct recomputation from the same days."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pure.calc.results import attribute, share_of
from app.pure.leaves import AllocationLeaf
from app.pure.report import Day, ReportPeriod, closed, fiscal_year_of, impact_figures

shares = st.decimals(min_value=Decimal("0.00000001"), max_value=1, places=8)
values = st.one_of(st.none(), st.integers(min_value=-(10**15), max_value=10**15))


@given(shares, values)
def test_share_of_is_attribute(share: Decimal, value: int | None) -> None:
    assert share_of(share)(value) == attribute(value, share)


def test_periods() -> None:
    fy = ReportPeriod.fiscal_year(2026)
    assert (fy.start, fy.end, fy.label) == (date(2026, 4, 1), date(2027, 3, 31), "FY2026")
    assert fiscal_year_of(date(2027, 3, 31)) == 2026
    assert fiscal_year_of(date(2027, 4, 1)) == 2027
    assert ReportPeriod.calendar_year(2026).label == "CY2026"
    assert fy.counted_from(date(2026, 6, 1)) == date(2026, 6, 1)
    with pytest.raises(ValueError, match="^end:"):
        ReportPeriod.between(date(2026, 5, 2), date(2026, 5, 1))


def day(
    asset_id: int, d: date, revision: int = 1, reduction: int | None = 1000, **kw: object
) -> Day:
    fields: dict[str, object] = {
        "asset_id": asset_id,
        "day": d,
        "revision": revision,
        "final": True,
        "metered_wh": 5000,
        "benchmark_wh": None if reduction is None else 5000 + reduction,
        "reduction_wh": reduction,
        "co2_avoided_g": None if reduction is None else reduction // 2,
        "intervals_present": 48,
        "intervals_expected": 48,
        "flags": (),
        "method": "intensity",
        "method_version": "1",
        "factor_ids": (1,),
        "baseline_fit_id": None,
    }
    fields.update(kw)
    return Day(**fields)  # type: ignore[arg-type]


def allocation(asset_id: int, share: str, issue: date) -> AllocationLeaf:
    return AllocationLeaf(asset_id, 1, "B", issue, asset_id, "JPY", Decimal(1000), Decimal(share))


def test_figures_count_from_issue_latest_revision_and_generation_apart() -> None:
    period = ReportPeriod.between(date(2026, 4, 1), date(2026, 4, 10))
    issue = date(2026, 4, 3)
    days = [day(1, date(2026, 4, 1) + timedelta(n), reduction=-777 + 401 * n) for n in range(10)]
    days.append(day(1, date(2026, 4, 5), revision=2, reduction=12345))  # a correction
    days.append(day(1, date(2026, 4, 11), reduction=99999))  # after the period
    days += [day(2, date(2026, 4, 3) + timedelta(n), method="generation") for n in range(8)]
    days.append(day(3, date(2026, 4, 4)))  # not allocated to this bond
    figures = impact_figures(
        period, [allocation(1, "0.37", issue), allocation(2, "1", issue)], days
    )
    assert set(figures) == {1, 2}
    counted = {d.day: d for d in days if d.asset_id == 1 and issue <= d.day <= period.end}
    counted[date(2026, 4, 5)] = days[10]
    f = figures[1]
    assert f.days_expected == 8 and f.days_reported == 8
    assert f.energy_savings_wh == sum(d.reduction_wh or 0 for d in counted.values())
    assert f.attributed_energy_savings_wh == sum(
        attribute(d.reduction_wh, Decimal("0.37")) or 0 for d in counted.values()
    )
    assert f.generation_wh == 0
    g = figures[2]
    assert (g.generation_wh, g.energy_savings_wh) == (8 * 1000, 0)
    assert closed(period, figures.values())
    early = ReportPeriod.between(date(2026, 4, 1), date(2026, 4, 20))
    assert not closed(early, impact_figures(early, [allocation(1, "0.37", issue)], days).values())


def test_days_without_a_claim_add_nothing_and_are_flagged() -> None:
    period = ReportPeriod.between(date(2026, 4, 1), date(2026, 4, 2))
    days = [
        day(1, date(2026, 4, 1), reduction=None, flags=("insufficient_coverage",)),
        day(1, date(2026, 4, 2), reduction=500),
    ]
    f = impact_figures(period, [allocation(1, "0.5", date(2026, 1, 1))], days)[1]
    assert (f.energy_savings_wh, f.co2_avoided_g, f.days_reported) == (500, 250, 2)
    assert f.flags == {"insufficient_coverage": 1}
