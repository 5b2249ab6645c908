"""Billing-period baseline model, CalTRACK 2.0 billing methods (IPMVP Option C). Pure: no I/O.

For an asset whose consumption is known per bill (a utility's meter read every month or two)
rather than per day. Each bill's average use per day is regressed on its average heating and
cooling degree days per day (CalTRACK 3.3): degree days are computed per day, from the day's mean
outdoor temperature at the candidate balance point, and averaged over the bill's days that have a
temperature. Weighted least squares, weight = the bill's number of days (3.4.2). The balance-point
search, its grid (CalTRACK's 3 F grid, refined in 0.5 F steps) and the candidate rules are the
daily model's (``app.pure.calc.baseline.search_balance_points``), except that CalTRACK's "10 days
with degree days" rule does not apply to billing data (3.2.2.2.1); the 20 degree-days F rule does.

The coefficients are per day, like the daily model's, so the counterfactual of a reporting day is
``app.pure.calc.baseline.predict_daily_wh(fit, [that day's mean temperature])``.

Bills are half-open date ranges: ``start`` is the first day the bill covers and ``end`` the day
after its last (the next read date), so consecutive bills share a date and a bill has
``end - start`` days. Docs: docs/methodology.md, "Billing-period baseline (CalTRACK billing)".
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

import numpy as np

from app.pure.calc.baseline import (
    MIN_DEGREE_DAYS_C,
    MODEL_TYPES,
    Array,
    BoolArray,
    degree_days,
    search_balance_points,
)

METHOD_VERSION = "caltrack-billing/1"
BASELINE_DAYS = 365  # CalTRACK 2.2.1.1 and 3.1.3
# CalTRACK 2.2.1.2 allows 10 % of the baseline days missing ("37 days"); like the daily method
# we round 10 % of 365 down, so at most 36.
BASELINE_MAX_MISSING_DAYS = BASELINE_DAYS // 10
MIN_PERIOD_DAYS = 25  # shorter: an off-cycle read, dropped (2.2.3.4)
MAX_MONTHLY_PERIOD_DAYS = 35  # longer, in a monthly billing cycle: dropped (2.2.3.5)
MAX_PERIOD_DAYS = 70  # bimonthly cycles, and estimated reads combined with the next (2.2.3.1)
MIN_TEMPERATURE_DAYS = (9, 10)  # 90 % of a bill's days need a mean temperature (2.2.3.2)

# ASHRAE Guideline 14-2014 calibration limits for monthly data, the resolution of bills.
MAX_CVRMSE = 0.15
MAX_ABS_NMBE = 0.05


@dataclass(frozen=True)
class BillingPeriod:
    """One bill: ``energy_wh`` consumed from ``start`` (included) to ``end`` (excluded);
    ``estimated``: the utility estimated the closing read instead of reading the meter."""

    start: date
    end: date
    energy_wh: int
    estimated: bool = False

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class PeriodObservation:
    """A usable bill as the regression sees it."""

    days: int  # n_p, the bill's length and its weight
    energy_wh: float
    temps_c: tuple[float, ...]  # mean temperatures of its days that have one


@dataclass(frozen=True)
class BillingFit:
    """Coefficients per day, like BaselineFit's; metrics over the bills (CV(RMSE) and NMBE on
    the bills' totals, R2 and adjusted R2 weighted by days, as the selection uses them)."""

    model_type: str  # "intercept_only" | "hdd_only" | "cdd_only" | "hdd_cdd"
    intercept_wh: float  # per day
    heating_balance_point_c: float | None
    heating_wh_per_degree_day: float | None
    cooling_balance_point_c: float | None
    cooling_wh_per_degree_day: float | None
    n_periods: int
    n_days: int  # days of those bills (the sum of the weights)
    r_squared: float
    adj_r_squared: float
    cvrmse: float
    nmbe: float

    @property
    def within_guideline_14(self) -> bool:
        return self.cvrmse <= MAX_CVRMSE and abs(self.nmbe) <= MAX_ABS_NMBE


def fit_billing_baseline(periods: Sequence[PeriodObservation]) -> BillingFit:
    """Fit on usable bills (see ``billing_baseline_observations``); any order."""
    n = len(periods)
    if n < 3:
        raise ValueError("a billing fit needs at least 3 billing periods")
    if any(p.days <= 0 or not p.temps_c or len(p.temps_c) > p.days for p in periods):
        raise ValueError("every billing period needs days and 1 to days temperatures")
    days = np.asarray([p.days for p in periods], dtype=np.float64)
    energy = np.asarray([p.energy_wh for p in periods], dtype=np.float64)
    t = np.concatenate([np.asarray(p.temps_c, dtype=np.float64) for p in periods])
    counts = np.asarray([len(p.temps_c) for p in periods], dtype=np.float64)
    offsets = np.concatenate(([0], np.cumsum(counts[:-1]))).astype(np.intp)

    def per_period(daily: Array) -> Array:
        """Average over each bill's days of a (balance points, days) array (CalTRACK 3.3.4)."""
        result: Array = np.add.reduceat(daily, offsets, axis=1) / counts
        return result

    def terms(
        heating_grid: Array, cooling_grid: Array
    ) -> tuple[Array, BoolArray, Array, BoolArray]:
        hdd, _ = degree_days(t, heating_grid)
        _, cdd = degree_days(t, cooling_grid)
        heating_ok: BoolArray = hdd.sum(axis=1) >= MIN_DEGREE_DAYS_C
        cooling_ok: BoolArray = cdd.sum(axis=1) >= MIN_DEGREE_DAYS_C
        return per_period(hdd), heating_ok, per_period(cdd), cooling_ok

    choice = search_balance_points(energy / days, terms, weights=days)
    columns = [np.ones(n)]
    if choice.heating_c is not None:
        columns.append(per_period(degree_days(t, [choice.heating_c])[0])[0])
    if choice.cooling_c is not None:
        columns.append(per_period(degree_days(t, [choice.cooling_c])[1])[0])
    return _wls_fit(np.column_stack(columns), days, energy, choice.heating_c, choice.cooling_c)


def _wls_fit(
    x: Array, days: Array, energy: Array, heating_c: float | None, cooling_c: float | None
) -> BillingFit:
    n, parameters = x.shape
    y = energy / days
    if parameters == 1:
        beta = np.array([energy.sum() / days.sum()])  # the weighted mean use per day, exactly
    else:
        root = np.sqrt(days)
        beta, *_ = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)
    residuals = y - x @ beta
    ssr = float(days @ residuals**2)
    sst = float(days @ (y - float(days @ y) / float(days.sum())) ** 2)
    r2 = 1.0 - ssr / sst if sst > 0 else 0.0
    adj = 1.0 - (1.0 - r2) * (n - 1) / (n - parameters) if sst > 0 and n > parameters else 0.0
    # Guideline 14's CV(RMSE) and NMBE of monthly data: on the bills' energy, not per day.
    bill_residuals = days * residuals
    mean_bill = float(energy.mean())
    dof = max(n - parameters, 1)
    return BillingFit(
        model_type=MODEL_TYPES[(heating_c is not None, cooling_c is not None)],
        intercept_wh=float(beta[0]),
        heating_balance_point_c=heating_c,
        heating_wh_per_degree_day=float(beta[1]) if heating_c is not None else None,
        cooling_balance_point_c=cooling_c,
        cooling_wh_per_degree_day=float(beta[-1]) if cooling_c is not None else None,
        n_periods=n,
        n_days=int(days.sum()),
        r_squared=r2,
        adj_r_squared=adj,
        cvrmse=(float(bill_residuals @ bill_residuals) / dof) ** 0.5 / mean_bill
        if mean_bill
        else float("inf"),
        nmbe=float(bill_residuals.sum()) / (dof * mean_bill) if mean_bill else 0.0,
    )


@dataclass(frozen=True)
class BillingBaselineData:
    """The bills of a baseline window that the fit may use, and what was left out."""

    observations: tuple[PeriodObservation, ...]
    covered_days: int  # days of the window read from the meter by a usable bill
    dropped: tuple[str, ...]  # one phrase per left-out reason, with counts

    @property
    def missing_days(self) -> int:
        return BASELINE_DAYS - self.covered_days


@dataclass(frozen=True)
class _Span:
    start: date
    end: date
    energy_wh: int
    estimated_days: int  # days closed by estimated reads, combined into this span

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _validated(bills: Sequence[BillingPeriod]) -> list[BillingPeriod]:
    ordered = sorted(bills, key=lambda b: b.start)
    for bill in ordered:
        if bill.end <= bill.start:
            raise ValueError(f"a billing period must end after it starts: {bill}")
        if bill.energy_wh < 0:
            raise ValueError(f"a bill's energy cannot be negative: {bill}")
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"billing periods overlap: {before} and {after}")
    return ordered


def _combine_estimated(bills: Sequence[BillingPeriod]) -> tuple[list[_Span], int]:
    """CalTRACK 2.2.3.1: an estimated bill is combined with the next (contiguous) bill, up to
    70 days in all; otherwise it is dropped together with the read it distorts. Returns the
    spans and how many bills were dropped."""
    spans: list[_Span] = []
    pending: list[BillingPeriod] = []
    dropped = 0
    for bill in bills:
        if pending and pending[-1].end != bill.start:
            dropped += len(pending)  # nothing to combine with: a gap follows the estimate
            pending = []
        if bill.estimated:
            pending.append(bill)
            continue
        if not pending:
            spans.append(_Span(bill.start, bill.end, bill.energy_wh, 0))
            continue
        combined = _Span(
            pending[0].start,
            bill.end,
            sum(b.energy_wh for b in pending) + bill.energy_wh,
            sum(b.days for b in pending),
        )
        if combined.days <= MAX_PERIOD_DAYS:
            spans.append(combined)
        else:
            dropped += len(pending) + 1
        pending = []
    return spans, dropped + len(pending)


def billing_baseline_observations(
    bills: Sequence[BillingPeriod],
    temperatures_c: Mapping[date, float | None],
    baseline_start: date,
) -> BillingBaselineData:
    """The usable bills of the 365-day window from ``baseline_start`` (CalTRACK 2.2.3):

    * only bills wholly inside the window (2.2.5: data spanning beyond the period is not used);
    * estimated bills combined with the next bill (at most 70 days in all), their days still
      counted as missing (2.2.3.1);
    * bills under 25 days dropped (off-cycle reads, 2.2.3.4); over 35 days dropped in a monthly
      billing cycle, over 70 in a bimonthly one (2.2.3.5): the cycle is bimonthly when the median
      actual bill inside the window is longer than 35 days;
    * bills with a mean temperature on fewer than 90 % of their days dropped (2.2.3.2).

    Overlapping bills, bills that end before they start and negative energy raise ValueError.
    """
    window_end = baseline_start + timedelta(days=BASELINE_DAYS)
    ordered = _validated(bills)
    inside = [b for b in ordered if baseline_start <= b.start and b.end <= window_end]
    reasons: dict[str, int] = {}
    if len(inside) < len(ordered):
        reasons["outside the baseline window or straddling its bounds"] = len(ordered) - len(inside)
    spans, unusable_estimates = _combine_estimated(inside)
    if unusable_estimates:
        reasons["estimated reads that could not be combined (gap or over 70 days)"] = (
            unusable_estimates
        )
    actual_days = [b.days for b in inside if not b.estimated]
    bimonthly = bool(actual_days) and statistics.median(actual_days) > MAX_MONTHLY_PERIOD_DAYS
    longest = MAX_PERIOD_DAYS if bimonthly else MAX_MONTHLY_PERIOD_DAYS
    observations: list[PeriodObservation] = []
    covered = 0
    for span in spans:
        if span.days < MIN_PERIOD_DAYS:
            reason = f"off-cycle reads (under {MIN_PERIOD_DAYS} days)"
        elif span.days > (MAX_PERIOD_DAYS if span.estimated_days else longest):
            reason = f"bills over {longest} days ({'bimonthly' if bimonthly else 'monthly'} cycle)"
        else:
            days = [span.start + timedelta(days=k) for k in range(span.days)]
            temps = tuple(t for d in days if (t := temperatures_c.get(d)) is not None)
            numerator, denominator = MIN_TEMPERATURE_DAYS
            if len(temps) * denominator < numerator * span.days:
                reason = "bills with a mean temperature on under 90 % of their days"
            else:
                observations.append(PeriodObservation(span.days, float(span.energy_wh), temps))
                covered += span.days - span.estimated_days
                continue
        reasons[reason] = reasons.get(reason, 0) + 1
    return BillingBaselineData(
        tuple(observations), covered, tuple(f"{count} {why}" for why, count in reasons.items())
    )


def fit_billing_baseline_period(
    bills: Sequence[BillingPeriod],
    temperatures_c: Mapping[date, float | None],
    baseline_start: date,
) -> tuple[BillingFit | None, str]:
    """Fit on the baseline window's usable bills when at most 36 of its 365 days are not covered
    by one (CalTRACK 2.2.1.2). Returns (fit or None, a sentence saying what was used)."""
    data = billing_baseline_observations(bills, temperatures_c, baseline_start)
    left_out = f"; left out: {', '.join(data.dropped)}" if data.dropped else ""
    if data.missing_days > BASELINE_MAX_MISSING_DAYS:
        return None, (
            f"{data.missing_days} of {BASELINE_DAYS} baseline days not covered by a usable bill "
            f"(at most {BASELINE_MAX_MISSING_DAYS}){left_out}"
        )
    fit = fit_billing_baseline(data.observations)
    return fit, (
        f"fitted on {len(data.observations)} bills covering {data.covered_days} of "
        f"{BASELINE_DAYS} days{left_out}"
    )
