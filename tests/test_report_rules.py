"""The report's pure rules: attribution in integer arithmetic equals the Decimal rule, periods,
closure, and the per-project figures against a direct recomputation from the same days."""

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pure.calc.results import attribute, share_of
from app.pure.calc.uncertainty import (
    CONFIDENCE_68,
    CONFIDENCE_90,
    UncertaintyBasis,
    savings_uncertainty_wh,
)
from app.pure.leaves import AllocationLeaf
from app.pure.report import (
    Day,
    ReportPeriod,
    closed,
    fiscal_year_of,
    impact_figures,
    impact_row,
    portfolio_row,
)

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


def no_basis(d: Day) -> UncertaintyBasis | None:
    raise AssertionError(f"no day states an uncertainty, yet the basis of {d} was asked")


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
        period, [allocation(1, "0.37", issue), allocation(2, "1", issue)], days, no_basis
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
    assert not closed(
        early, impact_figures(early, [allocation(1, "0.37", issue)], days, no_basis).values()
    )


def test_days_without_a_claim_add_nothing_and_are_flagged() -> None:
    period = ReportPeriod.between(date(2026, 4, 1), date(2026, 4, 2))
    days = [
        day(1, date(2026, 4, 1), reduction=None, flags=("insufficient_coverage",)),
        day(1, date(2026, 4, 2), reduction=500),
    ]
    f = impact_figures(period, [allocation(1, "0.5", date(2026, 1, 1))], days, no_basis)[1]
    assert (f.energy_savings_wh, f.co2_avoided_g, f.days_reported) == (500, 250, 2)
    assert f.flags == {"insufficient_coverage": 1}


BASES = {
    10: UncertaintyBasis(365, 3, 0.10, 0.5, Decimal(1)),
    11: UncertaintyBasis(365, 3, 0.12, 0.4, Decimal(1)),
    20: UncertaintyBasis(300, 2, 0.08, 0.0, Decimal(1)),
}


def baseline_day(asset_id: int, d: date, fit_id: int, benchmark: int, revision: int = 1) -> Day:
    return day(
        asset_id,
        d,
        revision,
        reduction=benchmark // 7,
        benchmark_wh=benchmark,
        method="baseline",
        baseline_fit_id=fit_id,
        states_uncertainty=True,
    )


def ceil_share(value: int, share: str) -> int:
    return math.ceil(Fraction(value) * Fraction(share))


def quadrature(values: list[int]) -> int:
    """The root of the sum of squares, rounded up."""
    total = sum(v * v for v in values)
    root = math.isqrt(total)
    return root if root * root == total else root + 1


def test_period_uncertainty_evaluates_the_stating_days_together() -> None:
    period = ReportPeriod.between(date(2026, 4, 1), date(2026, 4, 30))
    issue = date(2026, 4, 3)
    days = [
        # asset 1: before the issue date (not counted), the fit changes on the 20th, one day
        # claims nothing (no uncertainty), one is corrected, one falls after the period
        baseline_day(1, date(2026, 4, 2), 10, 900_000),
        *(baseline_day(1, date(2026, 4, n), 10, 400_000 + 1_000 * n) for n in range(3, 20)),
        *(baseline_day(1, date(2026, 4, n), 11, 500_000 + 777 * n) for n in range(20, 30)),
        day(1, date(2026, 4, 30), reduction=None, method="baseline", baseline_fit_id=11),
        baseline_day(1, date(2026, 4, 10), 10, 123_456, revision=2),
        baseline_day(1, date(2026, 5, 1), 11, 999_999),
        # asset 2: a different baseline
        *(baseline_day(2, date(2026, 4, n), 20, 2_000_000 + 13 * n) for n in range(1, 31)),
        # asset 3: intensity only, states none
        *(day(3, date(2026, 4, n)) for n in range(1, 31)),
    ]
    asked: list[Day] = []

    def basis_of(d: Day) -> UncertaintyBasis | None:
        asked.append(d)
        assert d.baseline_fit_id is not None
        return BASES[d.baseline_fit_id]

    shares = {1: "0.37", 2: "0.5", 3: "1"}
    allocations = [allocation(a, s, issue) for a, s in shares.items()]
    figures = impact_figures(period, allocations, days, basis_of)
    # independently: the latest revision of each counted day that states one
    latest: dict[tuple[int, date], Day] = {}
    for d in days:
        key = (d.asset_id, d.day)
        if key not in latest or d.revision > latest[key].revision:
            latest[key] = d
    expected: dict[int, tuple[int, int] | None] = {}
    for asset_id in shares:
        stating = sorted(
            (
                d
                for (a, when), d in latest.items()
                if a == asset_id and issue <= when <= period.end and d.states_uncertainty
            ),
            key=lambda d: d.day,
        )
        if not stating:
            expected[asset_id] = None
            continue
        basis = BASES[stating[-1].baseline_fit_id or 0]
        benchmark = sum(d.benchmark_wh or 0 for d in stating)
        expected[asset_id] = (
            savings_uncertainty_wh(basis, CONFIDENCE_68, len(stating), benchmark),
            savings_uncertainty_wh(basis, CONFIDENCE_90, len(stating), benchmark),
        )
    # the basis is that of each asset's latest stating day (asset 1's 30th states none)
    assert sorted((d.asset_id, d.day) for d in asked) == [
        (1, date(2026, 4, 29)),
        (2, date(2026, 4, 30)),
    ]
    assert expected[1] is not None and expected[2] is not None and expected[3] is None
    for asset_id, u in expected.items():
        row = impact_row(figures[asset_id])
        assert (row["savings_uncertainty_68_wh"], row["savings_uncertainty_90_wh"]) == (
            (None, None) if u is None else u
        )
        attributed = None if u is None else tuple(ceil_share(x, shares[asset_id]) for x in u)
        assert (
            row["attributed_savings_uncertainty_68_wh"],
            row["attributed_savings_uncertainty_90_wh"],
        ) == ((None, None) if attributed is None else attributed)
    # never the sum of the days' own (m = 1) figures, which grows like m
    day_sum = sum(
        savings_uncertainty_wh(BASES[d.baseline_fit_id or 0], CONFIDENCE_90, 1, d.benchmark_wh or 0)
        for (a, when), d in latest.items()
        if a == 1 and issue <= when <= period.end and d.states_uncertainty
    )
    assert expected[1][1] * 3 < day_sum
    portfolio = portfolio_row(figures.values())
    for level, name in ((0, "68"), (1, "90")):
        assert portfolio[f"savings_uncertainty_{name}_wh"] == quadrature(
            [expected[1][level], expected[2][level]]
        )
        assert portfolio[f"attributed_savings_uncertainty_{name}_wh"] == quadrature(
            [ceil_share(expected[a][level], shares[a]) for a in (1, 2)]  # type: ignore[index]
        )


def test_no_project_stating_an_uncertainty_leaves_the_portfolio_null() -> None:
    period = ReportPeriod.between(date(2026, 4, 1), date(2026, 4, 2))
    days = [day(1, date(2026, 4, 1)), day(1, date(2026, 4, 2))]
    figures = impact_figures(period, [allocation(1, "0.5", date(2026, 1, 1))], days, no_basis)
    row = portfolio_row(figures.values())
    assert [row[k] for k in row if "uncertainty" in k] == [None] * 4
