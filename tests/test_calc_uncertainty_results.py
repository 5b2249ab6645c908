"""Savings uncertainty on day and month results: which results carry it, that a month evaluates
its days together (not their sum), and the result leaf's optional keys."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from app.pure.calc.baseline import fit_daily_baseline
from app.pure.calc.days import DayTotal
from app.pure.calc.methods import BaselineMethod, IntensityMethod, full_day_benchmark_wh
from app.pure.calc.results import day_result, month_result
from app.pure.calc.uncertainty import (
    CONFIDENCE_68,
    CONFIDENCE_90,
    basis_of_daily_fit,
    savings_uncertainty_wh,
)
from app.pure.encoding import decode_leaf
from app.pure.leaves import ResultLeaf

RNG = np.random.default_rng(11)
TEMPS = RNG.uniform(-2, 30, 365)
FIT = fit_daily_baseline(
    TEMPS.tolist(),
    ((400_000 + 9000 * np.maximum(14 - TEMPS, 0)) * (1 + RNG.normal(0, 0.08, 365))).tolist(),
)
BASELINE = BaselineMethod(fit=FIT)
FIRST = date(2025, 6, 1)


def _day(offset: int, present: int = 48) -> DayTotal:
    return DayTotal(FIRST + timedelta(days=offset), 300_000, present, 48, False)


def test_baseline_day_carries_both_confidence_levels() -> None:
    result = day_result(_day(0), 12.0, BASELINE, None, ended=True, final=True)
    assert result.benchmark_wh is not None
    basis = basis_of_daily_fit(FIT)
    assert result.savings_uncertainty_68_wh == savings_uncertainty_wh(
        basis, CONFIDENCE_68, 1, result.benchmark_wh
    )
    assert result.savings_uncertainty_90_wh == savings_uncertainty_wh(
        basis, CONFIDENCE_90, 1, result.benchmark_wh
    )
    assert 0 < result.savings_uncertainty_68_wh < result.savings_uncertainty_90_wh
    assert "uncertainty_unavailable" not in result.flags


def test_no_uncertainty_without_a_baseline_claim() -> None:
    """Other methods, a day that claims nothing and a fit without its autocorrelation (stored
    before it was computed: flagged, never refitted here) carry none."""
    office = IntensityMethod(Decimal(185), Decimal(4200))
    assert day_result(_day(0), None, office, None, True, True).savings_uncertainty_90_wh is None
    unclaimed = day_result(_day(0, present=10), 12.0, BASELINE, None, True, True)
    assert unclaimed.reduction_wh is None and unclaimed.savings_uncertainty_68_wh is None
    assert "uncertainty_unavailable" not in unclaimed.flags
    old_fit = BaselineMethod(replace(FIT, residual_autocorrelation=None))
    old = day_result(_day(0), 12.0, old_fit, None, True, True)
    assert old.reduction_wh is not None
    assert old.savings_uncertainty_68_wh is None and old.savings_uncertainty_90_wh is None
    assert "uncertainty_unavailable" in old.flags


def test_month_evaluates_its_claiming_days_together() -> None:
    temps = [float(t) for t in TEMPS[:30]]
    days = [
        day_result(_day(i, present=10 if i in (3, 4) else 48), temps[i], BASELINE, None, True, True)
        for i in range(30)
    ]
    month = month_result(days, ended=True, final=True, basis=basis_of_daily_fit(FIT))
    claiming = [d for d in days if d.reduction_wh is not None]
    assert len(claiming) == 28
    counterfactual = sum(d.benchmark_wh or 0 for d in claiming)
    expected_predictions = [
        full_day_benchmark_wh(BASELINE, d.period_start, temps[i])[0] for i, d in enumerate(days)
    ]
    assert counterfactual == sum(
        p or 0 for p, d in zip(expected_predictions, days, strict=True) if d.reduction_wh
    )
    basis = basis_of_daily_fit(FIT)
    assert month.savings_uncertainty_90_wh == savings_uncertainty_wh(
        basis, CONFIDENCE_90, 28, counterfactual
    )
    # about sqrt(28) times less than the days' uncertainties added up
    summed = sum(d.savings_uncertainty_90_wh or 0 for d in days)
    assert month.savings_uncertainty_90_wh is not None
    assert month.savings_uncertainty_90_wh < summed / 5
    assert month_result(days, True, True, basis=None).savings_uncertainty_68_wh is None


def test_result_leaf_writes_the_uncertainty_only_when_present() -> None:
    """Leaves of results without one keep the bytes they had before the field existed."""
    result = day_result(_day(0), 12.0, BASELINE, None, ended=True, final=True)
    leaf = ResultLeaf(1, 2, 0, None, 3, 4, result)
    decoded = decode_leaf(leaf.encode())
    assert decoded["savings_uncertainty_90_wh"] == result.savings_uncertainty_90_wh
    assert ResultLeaf.parse(decoded) == leaf
    bare = replace(result, savings_uncertainty_68_wh=None, savings_uncertainty_90_wh=None)
    bare_leaf = ResultLeaf(1, 2, 0, None, 3, 4, bare)
    assert "savings_uncertainty_68_wh" not in decode_leaf(bare_leaf.encode())
    assert ResultLeaf.parse(decode_leaf(bare_leaf.encode())) == bare_leaf
