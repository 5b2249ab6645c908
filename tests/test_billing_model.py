"""CalTRACK billing-period baseline: recovery of known models from bills, weighted least squares,
candidate selection and the billing data-sufficiency rules.

Synthetic data: Tokyo-like daily mean temperatures (16 C - 10 C cos(2 pi (d - 20) / 365) plus
N(0, 2.5 C) weather), a true daily model m(T) with multiplicative daily noise, summed into
calendar-month bills of the baseline year 2022.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise, product

import numpy as np
import pytest

from app.pure.calc.baseline import (
    BALANCE_POINTS_C,
    BALANCE_POINTS_F,
    MIN_DEGREE_DAYS_C,
    predict_daily_wh,
)
from app.pure.calc.billing import (
    BASELINE_DAYS,
    BASELINE_MAX_MISSING_DAYS,
    MAX_ABS_NMBE,
    MAX_CVRMSE,
    BillingFit,
    BillingPeriod,
    PeriodObservation,
    billing_baseline_observations,
    fit_billing_baseline,
    fit_billing_baseline_period,
)

START = date(2022, 1, 1)
GRID_STEP_C = float(np.max(np.diff(BALANCE_POINTS_C))) + 1e-9  # 3 F
NOISE = 0.05  # daily, multiplicative
SEEDS = range(5)


def on_grid(fahrenheit: int) -> float:
    return BALANCE_POINTS_C[BALANCE_POINTS_F.index(fahrenheit)]


@dataclass(frozen=True)
class TrueModel:
    intercept_wh: float
    heating_wh_per_dd: float = 0.0
    heating_bp_c: float | None = None
    cooling_wh_per_dd: float = 0.0
    cooling_bp_c: float | None = None

    def __call__(self, temps_c: np.ndarray) -> np.ndarray:
        y = np.full(len(temps_c), float(self.intercept_wh))
        if self.heating_bp_c is not None:
            y += self.heating_wh_per_dd * np.maximum(self.heating_bp_c - temps_c, 0.0)
        if self.cooling_bp_c is not None:
            y += self.cooling_wh_per_dd * np.maximum(temps_c - self.cooling_bp_c, 0.0)
        return y


MODELS = {
    "hdd_only": TrueModel(500_000, 40_000, on_grid(60)),
    "cdd_only": TrueModel(500_000, cooling_wh_per_dd=60_000, cooling_bp_c=on_grid(72)),
    "hdd_cdd": TrueModel(500_000, 40_000, on_grid(57), 60_000, on_grid(69)),
    "hdd_cdd_off_grid": TrueModel(500_000, 40_000, 16.5, 60_000, 21.0),
}


def tokyo_temps(rng: np.random.Generator, mean_c: float = 16.0) -> np.ndarray:
    d = np.arange(BASELINE_DAYS)
    return mean_c - 10.0 * np.cos(2 * np.pi * (d - 20) / 365) + rng.normal(0.0, 2.5, len(d))


def month_starts() -> list[date]:
    return [date(2022, m, 1) for m in range(1, 13)] + [date(2023, 1, 1)]


def bills_of(daily_wh: np.ndarray, cuts: list[date]) -> list[BillingPeriod]:
    """Bills between consecutive cut dates, each the sum of its days' energy."""
    return [
        BillingPeriod(s, e, round(float(daily_wh[(s - START).days : (e - START).days].sum())))
        for s, e in pairwise(cuts)
    ]


def temperature_map(temps: np.ndarray) -> dict[date, float | None]:
    return {START + timedelta(days=i): float(t) for i, t in enumerate(temps)}


@dataclass(frozen=True)
class Scenario:
    temps: np.ndarray
    daily_wh: np.ndarray
    bills: list[BillingPeriod]


def scenario(model: TrueModel, seed: int, noise: float = NOISE) -> Scenario:
    rng = np.random.default_rng(seed)
    temps = tokyo_temps(rng)
    daily = model(temps) * (1 + rng.normal(0.0, noise, len(temps)))
    return Scenario(temps, daily, bills_of(daily, month_starts()))


def fit_of(s: Scenario) -> BillingFit:
    fit, reason = fit_billing_baseline_period(s.bills, temperature_map(s.temps), START)
    assert fit is not None, reason
    return fit


def period_design(
    temps: np.ndarray, cuts: list[date], heating_c: float | None, cooling_c: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per bill: [1, mean HDD, mean CDD] over its days, and its number of days."""
    bounds = [(s - START).days for s in cuts]
    rows, days = [], []
    for a, b in pairwise(bounds):
        t = temps[a:b]
        row = [1.0]
        if heating_c is not None:
            row.append(float(np.maximum(heating_c - t, 0).mean()))
        if cooling_c is not None:
            row.append(float(np.maximum(t - cooling_c, 0).mean()))
        rows.append(row)
        days.append(b - a)
    return np.asarray(rows), np.asarray(days, dtype=float)


def coefficients(fit: BillingFit) -> np.ndarray:
    values = [fit.intercept_wh]
    values += [
        c for c in (fit.heating_wh_per_degree_day, fit.cooling_wh_per_degree_day) if c is not None
    ]
    return np.asarray(values)


# --- recovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "seed"), list(product(MODELS, SEEDS)))
def test_recovers_balance_points_coefficients_and_counterfactual(name: str, seed: int) -> None:
    """Twelve monthly bills of a known model with 5 % daily noise:

    * each true balance point is recovered within one grid step (3 F);
    * the coefficients are within 4 standard errors of the weighted least-squares projection of
      the noise-free model at the chosen balance points. The standard errors come from the noise
      itself: a bill's use per day has variance sum_d (5 % m(T_d))^2 / n_p^2, propagated through
      the weighted estimator (sandwich). Against the truth's own coefficients a balance point one
      refinement step off shifts the slope far more than the noise, which is why the reference
      is the projection at the chosen balance points;
    * the counterfactual of a 1.5 C warmer reporting year, predicted day by day, is within 1 %
      of the noise-free truth; for one-term models a weather-blind estimate misses by more.
    """
    model = MODELS[name]
    s = scenario(model, seed)
    fit = fit_of(s)

    for true_bp, fitted_bp in (
        (model.heating_bp_c, fit.heating_balance_point_c),
        (model.cooling_bp_c, fit.cooling_balance_point_c),
    ):
        if true_bp is not None:
            assert fitted_bp is not None, fit
            assert abs(fitted_bp - true_bp) <= GRID_STEP_C, fit

    cuts = month_starts()
    x, days = period_design(s.temps, cuts, fit.heating_balance_point_c, fit.cooling_balance_point_c)
    bounds = [(c - START).days for c in cuts]
    truth = np.asarray([model(s.temps[a:b]).mean() for a, b in pairwise(bounds)])
    root = np.sqrt(days)
    projection, *_ = np.linalg.lstsq(x * root[:, None], truth * root, rcond=None)
    variance = np.asarray(
        [
            float(((NOISE * model(s.temps[a:b])) ** 2).sum()) / (b - a) ** 2
            for a, b in pairwise(bounds)
        ]
    )
    bread = np.linalg.inv(x.T @ (x * days[:, None]))
    covariance = bread @ (x.T * (days**2 * variance)) @ x @ bread
    standard_errors = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(coefficients(fit) - projection) <= 4 * standard_errors), (
        fit,
        (coefficients(fit) - projection) / standard_errors,
    )

    rng = np.random.default_rng(1000 + seed)
    reporting = tokyo_temps(rng, 17.5)
    counterfactual = float(model(reporting).sum())
    predicted = sum(predict_daily_wh(fit, reporting.tolist()))
    assert abs(predicted - counterfactual) <= 0.01 * counterfactual
    if name in ("hdd_only", "cdd_only"):
        weather_blind = sum(b.energy_wh for b in s.bills) / BASELINE_DAYS * len(reporting)
        assert abs(weather_blind - counterfactual) > 0.01 * counterfactual


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_equals_numpy_weighted_least_squares(name: str) -> None:
    """At the chosen balance points: coefficients from numpy's lstsq on sqrt(days)-scaled rows;
    R2 and adjusted R2 weighted by days; CV(RMSE) and NMBE on the bills' energy (Guideline 14's
    monthly definitions, n - p degrees of freedom)."""
    s = scenario(MODELS[name], seed=42)
    fit = fit_of(s)
    cuts = month_starts()
    x, days = period_design(s.temps, cuts, fit.heating_balance_point_c, fit.cooling_balance_point_c)
    energy = np.asarray([b.energy_wh for b in s.bills], dtype=float)
    y = energy / days
    root = np.sqrt(days)
    beta, *_ = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)
    n, p = x.shape
    residuals = y - x @ beta
    weighted_mean = float(days @ y / days.sum())
    ssr, sst = float(days @ residuals**2), float(days @ (y - weighted_mean) ** 2)
    bill_residuals = energy - days * (x @ beta)
    assert (fit.n_periods, fit.n_days) == (12, BASELINE_DAYS)
    assert coefficients(fit) == pytest.approx(beta, rel=1e-9)
    assert fit.r_squared == pytest.approx(1 - ssr / sst, rel=1e-9)
    assert fit.adj_r_squared == pytest.approx(1 - (ssr / (n - p)) / (sst / (n - 1)), rel=1e-9)
    cvrmse = np.sqrt(bill_residuals @ bill_residuals / (n - p)) / energy.mean()
    assert fit.cvrmse == pytest.approx(cvrmse, rel=1e-9)
    assert fit.nmbe == pytest.approx(bill_residuals.sum() / ((n - p) * energy.mean()), abs=1e-12)
    assert fit.within_guideline_14 == (fit.cvrmse <= MAX_CVRMSE and abs(fit.nmbe) <= MAX_ABS_NMBE)


def brute_force_best(
    temps: np.ndarray,
    bills: list[BillingPeriod],
    grid_h: tuple[float, ...],
    grid_c: tuple[float, ...],
) -> tuple[float, float | None, float | None]:
    """Every CalTRACK billing candidate fitted with numpy's lstsq (weighted), the best adjusted
    R2 kept. A degree-day term needs a positive coefficient and 20 degree-days F over the days."""
    cuts = [b.start for b in bills] + [bills[-1].end]
    _, days = period_design(temps, cuts, None, None)
    y = np.asarray([b.energy_wh for b in bills], dtype=float) / days
    n, root = len(y), np.sqrt(days)
    sst = float(days @ (y - days @ y / days.sum()) ** 2)
    options: list[tuple[float | None, float | None]] = [(None, None)]
    options += [(h, None) for h in grid_h] + [(None, c) for c in grid_c]
    options += [(h, c) for h in grid_h for c in grid_c if c >= h]
    best: tuple[float, float | None, float | None] = (0.0, None, None)
    for h, c in options:
        if h is not None and np.maximum(h - temps, 0).sum() < MIN_DEGREE_DAYS_C:
            continue
        if c is not None and np.maximum(temps - c, 0).sum() < MIN_DEGREE_DAYS_C:
            continue
        x, _ = period_design(temps, cuts, h, c)
        if x.shape[1] > 1 and np.linalg.matrix_rank(x) < x.shape[1]:
            continue
        beta, *_ = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)
        if np.any(beta[1:] <= 0):
            continue
        r = y - x @ beta
        adj = 1 - (float(days @ r**2) / (n - x.shape[1])) / (sst / (n - 1))
        if adj > best[0] + 1e-9:
            best = (adj, h, c)
    return best


def refined(best_c: float | None) -> tuple[float, ...]:
    if best_c is None:
        return BALANCE_POINTS_C
    best_f = best_c * 9 / 5 + 32
    fine = {round((f - 32) * 5 / 9, 4) for f in (best_f + 0.5 * k for k in range(-6, 7))}
    return tuple(sorted({f for f in fine if -1.12 < f < 32.23} | set(BALANCE_POINTS_C)))


@pytest.mark.parametrize("name", list(MODELS))
def test_selection_matches_a_brute_force_weighted_search(name: str) -> None:
    """The chosen model has the adjusted R2 of the best candidate found by fitting every one
    with lstsq, on the 3 F grid and then on the grid refined around its winner."""
    s = scenario(MODELS[name], seed=3)
    fit = fit_of(s)
    _, h0, c0 = brute_force_best(s.temps, s.bills, BALANCE_POINTS_C, BALANCE_POINTS_C)
    best, h, c = brute_force_best(s.temps, s.bills, refined(h0), refined(c0))
    assert fit.adj_r_squared == pytest.approx(best, abs=1e-9)
    assert (fit.heating_balance_point_c, fit.cooling_balance_point_c) == (h, c)


# --- weights -----------------------------------------------------------------------------------


def test_a_long_bill_counts_more_than_a_short_one() -> None:
    """Weighted least squares, weight = days: with no weather dependence the use per day is the
    total energy over the total days, which a 65-day bill at 200 kWh/day pulls far more than an
    unweighted mean of the bills' use per day would."""
    flat = (40.0,) * 65  # the same temperature every day: degree days that do not vary
    periods = [
        PeriodObservation(28, 28 * 100_000.0, flat[:28]),
        PeriodObservation(65, 65 * 200_000.0, flat),
        PeriodObservation(31, 31 * 100_000.0, flat[:31]),
    ]
    fit = fit_billing_baseline(periods)
    assert fit.model_type == "intercept_only"
    total_energy = sum(p.energy_wh for p in periods)
    assert fit.intercept_wh == pytest.approx(total_energy / (28 + 65 + 31), rel=1e-12)
    unweighted = np.mean([p.energy_wh / p.days for p in periods])
    assert abs(fit.intercept_wh - unweighted) > 15_000  # 152.4 vs 133.3 kWh/day


def test_weights_move_a_weather_fit_towards_the_long_bill() -> None:
    """With degree days, the fit equals numpy's weighted solution, not the unweighted one: a
    bimonthly bill whose use per day sits above the line pulls the line up by its weight."""
    s = scenario(MODELS["hdd_only"], seed=7, noise=0.0)
    cuts = [date(2022, m, 1) for m in (1, 3, 5, 7, 9, 11)] + [date(2023, 1, 1)]  # ~61 days each
    bills = bills_of(s.daily_wh, cuts)
    bills[2] = BillingPeriod(bills[2].start, bills[2].end, round(bills[2].energy_wh * 1.2))
    fit, reason = fit_billing_baseline_period(bills, temperature_map(s.temps), START)
    assert fit is not None and fit.n_periods == 6, reason
    x, days = period_design(s.temps, cuts, fit.heating_balance_point_c, fit.cooling_balance_point_c)
    y = np.asarray([b.energy_wh for b in bills], dtype=float) / days
    root = np.sqrt(days)
    weighted, *_ = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)
    unweighted, *_ = np.linalg.lstsq(x, y, rcond=None)
    assert coefficients(fit) == pytest.approx(weighted, rel=1e-9)
    assert abs(weighted[0] - unweighted[0]) > 1e-6 * abs(unweighted[0])


# --- data sufficiency --------------------------------------------------------------------------


def baseline() -> tuple[Scenario, dict[date, float | None]]:
    s = scenario(MODELS["hdd_cdd"], seed=5)
    return s, temperature_map(s.temps)


def test_all_twelve_monthly_bills_are_used() -> None:
    s, temps = baseline()
    fit, reason = fit_billing_baseline_period(s.bills, temps, START)
    assert fit is not None and (fit.n_periods, fit.n_days) == (12, 365)
    assert reason == "fitted on 12 bills covering 365 of 365 days"


def split(bill: BillingPeriod, first_days: int) -> list[BillingPeriod]:
    middle = bill.start + timedelta(days=first_days)
    share = first_days / bill.days
    return [
        BillingPeriod(bill.start, middle, round(bill.energy_wh * share)),
        BillingPeriod(middle, bill.end, bill.energy_wh - round(bill.energy_wh * share)),
    ]


def test_off_cycle_reads_are_dropped_and_count_as_missing() -> None:
    """March split into 10 + 21 days: both under 25 days, dropped; 31 days missing (<= 36):
    fitted on 11 bills. April split too: 61 missing, refused, saying why."""
    s, temps = baseline()
    bills = s.bills[:2] + split(s.bills[2], 10) + s.bills[3:]
    fit, reason = fit_billing_baseline_period(bills, temps, START)
    assert fit is not None and fit.n_periods == 11 and fit.n_days == 334
    assert "2 off-cycle reads (under 25 days)" in reason
    bills = s.bills[:2] + split(s.bills[2], 10) + split(s.bills[3], 12) + s.bills[4:]
    fit, reason = fit_billing_baseline_period(bills, temps, START)
    assert fit is None
    assert reason.startswith(
        f"61 of 365 baseline days not covered by a usable bill "
        f"(at most {BASELINE_MAX_MISSING_DAYS})"
    )
    assert "4 off-cycle reads" in reason


def test_a_bill_over_35_days_is_dropped_in_a_monthly_cycle() -> None:
    s, temps = baseline()
    feb_mar = BillingPeriod(
        s.bills[1].start, s.bills[2].end, s.bills[1].energy_wh + s.bills[2].energy_wh
    )
    bills = [s.bills[0], feb_mar, *s.bills[3:]]
    fit, reason = fit_billing_baseline_period(bills, temps, START)
    assert fit is None
    assert "59 of 365 baseline days" in reason and "1 bills over 35 days (monthly cycle)" in reason


def test_bimonthly_bills_up_to_70_days_are_used() -> None:
    s, temps = baseline()
    cuts = [date(2022, m, 1) for m in (1, 3, 5, 7, 9, 11)] + [date(2023, 1, 1)]
    fit, reason = fit_billing_baseline_period(bills_of(s.daily_wh, cuts), temps, START)
    assert fit is not None and (fit.n_periods, fit.n_days) == (6, 365), reason


def test_estimated_read_is_combined_with_the_next_bill_and_counted_missing() -> None:
    """February estimated: combined with March (59 days <= 70), used, and its 28 days count as
    missing. February and March estimated: 89 days with April, over 70: all three dropped."""
    s, temps = baseline()
    bills = list(s.bills)
    bills[1] = BillingPeriod(bills[1].start, bills[1].end, bills[1].energy_wh, estimated=True)
    data = billing_baseline_observations(bills, temps, START)
    assert [o.days for o in data.observations][:2] == [31, 59]
    assert data.observations[1].energy_wh == s.bills[1].energy_wh + s.bills[2].energy_wh
    assert data.covered_days == 365 - 28
    fit, reason = fit_billing_baseline_period(bills, temps, START)
    assert fit is not None and fit.n_periods == 11 and fit.n_days == 365
    assert reason.startswith("fitted on 11 bills covering 337 of 365 days")

    bills[2] = BillingPeriod(bills[2].start, bills[2].end, bills[2].energy_wh, estimated=True)
    fit, reason = fit_billing_baseline_period(bills, temps, START)
    assert fit is None
    assert "89 of 365 baseline days" in reason
    assert "3 estimated reads that could not be combined" in reason


def test_a_bill_needs_temperatures_on_90_percent_of_its_days() -> None:
    """March (31 days) with 3 days without a temperature (90.3 %) is used; with 4 (87 %) it is
    dropped."""
    s, temps = baseline()
    march = [date(2022, 3, d) for d in range(1, 5)]
    for d in march[:3]:
        temps[d] = None
    data = billing_baseline_observations(s.bills, temps, START)
    assert len(data.observations) == 12 and len(data.observations[2].temps_c) == 28
    del temps[march[3]]
    data = billing_baseline_observations(s.bills, temps, START)
    assert len(data.observations) == 11 and data.missing_days == 31
    assert data.dropped == ("1 bills with a mean temperature on under 90 % of their days",)


@pytest.mark.parametrize("first_read_day", [6, 7])
def test_at_most_36_days_of_the_window_may_be_uncovered(first_read_day: int) -> None:
    """Reads on day 6 of each month from February: January and 1-5 February, 36 days, are not
    covered, fitted; from day 7: 37, refused. A bill straddling the window's start is not used."""
    s, temps = baseline()
    cuts = [date(2022, m, first_read_day) for m in range(2, 13)] + [date(2023, 1, 1)]
    bills = [BillingPeriod(date(2021, 12, 20), date(2022, 1, 20), 1), *bills_of(s.daily_wh, cuts)]
    fit, reason = fit_billing_baseline_period(bills, temps, START)
    missing = 31 + first_read_day - 1
    if first_read_day == 6:
        assert missing == BASELINE_MAX_MISSING_DAYS
        assert fit is not None and fit.n_days == 365 - missing, reason
        assert "left out: 1 outside the baseline window or straddling its bounds" in reason
    else:
        assert fit is None
        assert reason.startswith(f"{missing} of 365 baseline days not covered")


def test_invalid_bills_are_refused() -> None:
    s, temps = baseline()
    overlapping = [*s.bills[:2], BillingPeriod(date(2022, 2, 20), date(2022, 3, 20), 1)]
    with pytest.raises(ValueError, match="overlap"):
        billing_baseline_observations(overlapping, temps, START)
    with pytest.raises(ValueError, match="end after it starts"):
        billing_baseline_observations([BillingPeriod(START, START, 1)], temps, START)
    with pytest.raises(ValueError, match="negative"):
        billing_baseline_observations([BillingPeriod(START, date(2022, 2, 1), -1)], temps, START)
    with pytest.raises(ValueError, match="at least 3"):
        fit_billing_baseline([PeriodObservation(30, 1.0, (1.0,))] * 2)
