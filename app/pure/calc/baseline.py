"""Whole-facility baseline model, CalTRACK daily method (IPMVP Option C). Pure: no I/O.

Daily consumption is regressed on heating and cooling degree days of the site's mean daily
outdoor temperature. Balance points are searched over CalTRACK's grid, 30-90 F in 3 F steps
(about -1.1 to 32.2 C), with the cooling balance point >= the heating one. Four candidate
models: intercept only, HDD only, CDD only, HDD + CDD. Candidates whose degree-day coefficients
are not positive, or whose balance point has too few degree days (CalTRACK: at least 10 days
with degree days and 20 degree-days F in total), are dropped; the highest adjusted R2 wins.

All candidate fits are solved at once from centred cross-product matrices (one matrix product
for every balance point pair), which is what makes a fit take about a millisecond. A second
pass refines the winning balance points in 0.5 F steps within one grid step (CalTRACK allows
any step up to 3 F). The search (``search_balance_points``) also serves the billing-period model
(``app.pure.calc.billing``): it takes the degree days per observation from a callback and
optional weights (weighted least squares).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

METHOD_VERSION = "caltrack-daily/1"
BALANCE_POINTS_F = tuple(range(30, 91, 3))
REFINE_STEP_F = 0.5
BALANCE_POINTS_C = tuple(round((f - 32) * 5 / 9, 4) for f in BALANCE_POINTS_F)
MIN_DEGREE_DAY_DAYS = 10
MIN_DEGREE_DAYS_C = 20 * 5 / 9  # CalTRACK's 20 degree-days F, in degree-days C

# ASHRAE Guideline 14-2014 calibration limits. The guideline states them for monthly (CV(RMSE)
# 15 %, NMBE +-5 %) and hourly (30 %, +-10 %) data; for daily data we apply the hourly limits,
# the looser pair, because daily consumption carries day-to-day occupancy noise that monthly
# sums average out. Fits outside them are flagged, not rejected: the figures stay disclosed.
MAX_CVRMSE = 0.30
MAX_ABS_NMBE = 0.10

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class BaselineFit:
    model_type: str  # "intercept_only" | "hdd_only" | "cdd_only" | "hdd_cdd"
    intercept_wh: float
    heating_balance_point_c: float | None
    heating_wh_per_degree_day: float | None
    cooling_balance_point_c: float | None
    cooling_wh_per_degree_day: float | None
    n_days: int
    r_squared: float
    adj_r_squared: float
    cvrmse: float
    nmbe: float
    # Lag-1 autocorrelation of the residuals in day order, for the savings uncertainty
    # (app.pure.calc.uncertainty). None: a fit stored before it was computed (refit to get it).
    residual_autocorrelation: float | None = None

    @property
    def within_guideline_14(self) -> bool:
        return self.cvrmse <= MAX_CVRMSE and abs(self.nmbe) <= MAX_ABS_NMBE


class DegreeDayModel(Protocol):
    """What a daily prediction needs: BaselineFit, and the billing model's BillingFit (its
    coefficients are per day too)."""

    @property
    def intercept_wh(self) -> float: ...
    @property
    def heating_balance_point_c(self) -> float | None: ...
    @property
    def heating_wh_per_degree_day(self) -> float | None: ...
    @property
    def cooling_balance_point_c(self) -> float | None: ...
    @property
    def cooling_wh_per_degree_day(self) -> float | None: ...


MODEL_TYPES = {
    (False, False): "intercept_only",
    (True, False): "hdd_only",
    (False, True): "cdd_only",
    (True, True): "hdd_cdd",
}


def degree_days(temps_c: Array, balance_points_c: Sequence[float] | Array) -> tuple[Array, Array]:
    """(HDD, CDD), each shaped (balance points, days)."""
    bp = np.asarray(balance_points_c, dtype=np.float64)[:, None]
    t = temps_c[None, :]
    return np.maximum(bp - t, 0.0), np.maximum(t - bp, 0.0)


def _sufficient(dd: Array) -> BoolArray:
    enough_days = (dd > 0).sum(axis=1) >= MIN_DEGREE_DAY_DAYS
    enough_degrees = dd.sum(axis=1) >= MIN_DEGREE_DAYS_C
    result: BoolArray = enough_days & enough_degrees
    return result


def _grid_c(points_f: Sequence[float]) -> Array:
    return np.asarray(sorted({round((f - 32) * 5 / 9, 4) for f in points_f}), dtype=np.float64)


COARSE_GRID_C = _grid_c(BALANCE_POINTS_F)


def _refined(best_c: float | None) -> Array:
    """The coarse grid plus 0.5 F steps within one coarse step (3 F) of the best point."""
    if best_c is None:
        return COARSE_GRID_C
    best_f = best_c * 9 / 5 + 32
    fine = [best_f + REFINE_STEP_F * k for k in range(-6, 7)]
    fine = [f for f in fine if BALANCE_POINTS_F[0] <= f <= BALANCE_POINTS_F[-1]]
    return np.union1d(COARSE_GRID_C, _grid_c(fine))


# (heating grid, cooling grid) -> (HDD per grid point and observation, which heating points have
# enough degree days, CDD per grid point and observation, which cooling points have enough).
DegreeDayTerms = Callable[[Array, Array], tuple[Array, BoolArray, Array, BoolArray]]


@dataclass(frozen=True)
class BalancePoints:
    """The winning candidate of a balance-point search."""

    adj_r2: float
    rank: int  # 0 intercept only, 1 HDD, 2 CDD, 3 HDD + CDD: lower wins a tie
    heating_c: float | None
    cooling_c: float | None


def _centred(a: Array, weights: Array | None) -> Array:
    if weights is None:
        result: Array = a - a.mean(axis=-1, keepdims=True)
        return result
    mean = (a @ weights) / weights.sum()
    centred: Array = a - np.expand_dims(mean, -1)
    return centred


def _best(
    y: Array,
    heating_grid: Array,
    cooling_grid: Array,
    terms: DegreeDayTerms,
    weights: Array | None,
) -> BalancePoints:
    """The candidate with the highest adjusted R2 over these balance-point grids (ascending).
    Every candidate is solved at once from centred cross products: no loop over candidates.
    With weights, the sums are weighted (weighted least squares, weighted adjusted R2)."""
    n = len(y)
    yc = _centred(y, weights)
    sst = float(yc @ yc) if weights is None else float((yc * weights) @ yc)
    if sst <= 0:
        return BalancePoints(0.0, 0, None, None)
    hdd, heating_ok, cdd, cooling_ok = terms(heating_grid, cooling_grid)
    hc = _centred(hdd, weights)
    cc = _centred(cdd, weights)
    hw = hc if weights is None else hc * weights
    cw = cc if weights is None else cc * weights
    s_hh = np.einsum("ij,ij->i", hw, hc)
    s_cc = np.einsum("ij,ij->i", cw, cc)
    s_hy = hw @ yc
    s_cy = cw @ yc
    s_hc = hw @ cc.T
    # A term needs degree days that vary: averaged per bill, constant degree days differ by float
    # rounding only, and a slope fitted on that noise must not count as a weather dependence.
    heating_ok = heating_ok & (s_hh > 1e-10 * np.einsum("ij,ij->i", hdd, hdd))
    cooling_ok = cooling_ok & (s_cc > 1e-10 * np.einsum("ij,ij->i", cdd, cdd))

    def adj(ssr: Array, predictors: int) -> Array:
        if n - predictors - 1 <= 0:
            return np.full(np.shape(ssr), -np.inf)
        result: Array = 1.0 - (ssr / (n - predictors - 1)) / (sst / (n - 1))
        return result

    choices = [BalancePoints(0.0, 0, None, None)]
    with np.errstate(divide="ignore", invalid="ignore"):
        b_h1 = np.where(s_hh > 0, s_hy / s_hh, 0.0)
        adj_h = np.where(heating_ok & (b_h1 > 0), adj(sst - b_h1 * s_hy, 1), -np.inf)
        b_c1 = np.where(s_cc > 0, s_cy / s_cc, 0.0)
        adj_c = np.where(cooling_ok & (b_c1 > 0), adj(sst - b_c1 * s_cy, 1), -np.inf)
        det = s_hh[:, None] * s_cc[None, :] - s_hc**2
        b_h = (s_cc[None, :] * s_hy[:, None] - s_hc * s_cy[None, :]) / det
        b_c = (s_hh[:, None] * s_cy[None, :] - s_hc * s_hy[:, None]) / det
        valid = (
            heating_ok[:, None]
            & cooling_ok[None, :]
            & (cooling_grid[None, :] >= heating_grid[:, None])
            & (det > 1e-9 * s_hh[:, None] * s_cc[None, :])
            & (b_h > 0)
            & (b_c > 0)
        )
        adj_p = np.where(valid, adj(sst - b_h * s_hy[:, None] - b_c * s_cy[None, :], 2), -np.inf)
    # Rounded so that float noise cannot break a tie: the lowest balance point wins it.
    adj_h, adj_c, adj_p = (np.round(a, 12) for a in (adj_h, adj_c, adj_p))
    if np.isfinite(adj_h).any():
        i = int(np.argmax(adj_h))  # first maximum: the lowest balance point wins a tie
        choices.append(BalancePoints(float(adj_h[i]), 1, float(heating_grid[i]), None))
    if np.isfinite(adj_c).any():
        j = int(np.argmax(adj_c))
        choices.append(BalancePoints(float(adj_c[j]), 2, None, float(cooling_grid[j])))
    if np.isfinite(adj_p).any():
        hi, ci = np.unravel_index(int(np.argmax(adj_p)), adj_p.shape)
        choices.append(
            BalancePoints(float(adj_p[hi, ci]), 3, float(heating_grid[hi]), float(cooling_grid[ci]))
        )
    return max(choices, key=lambda c: (round(c.adj_r2, 12), -c.rank))


def search_balance_points(
    y: Array, terms: DegreeDayTerms, weights: Array | None = None
) -> BalancePoints:
    """CalTRACK's 3 F grid, then once more with 0.5 F steps within one grid step of the best
    balance points, so a balance point between grid points is not forced onto the grid (the
    slope would otherwise absorb the difference; see docs/performance.md)."""
    coarse = _best(y, COARSE_GRID_C, COARSE_GRID_C, terms, weights)
    if not coarse.rank:
        return coarse
    return _best(y, _refined(coarse.heating_c), _refined(coarse.cooling_c), terms, weights)


def _daily_terms(t: Array) -> DegreeDayTerms:
    def terms(
        heating_grid: Array, cooling_grid: Array
    ) -> tuple[Array, BoolArray, Array, BoolArray]:
        hdd, _ = degree_days(t, heating_grid)
        _, cdd = degree_days(t, cooling_grid)
        return hdd, _sufficient(hdd), cdd, _sufficient(cdd)

    return terms


def fit_daily_baseline(temps_c: Sequence[float], energy_wh: Sequence[float]) -> BaselineFit:
    """Fit on usable days only (both a mean temperature and a complete day of energy), given in
    day order (the residuals' autocorrelation is taken in that order)."""
    t = np.asarray(temps_c, dtype=np.float64)
    y = np.asarray(energy_wh, dtype=np.float64)
    n = len(y)
    if n < 3 or len(t) != n:
        raise ValueError("a baseline fit needs at least 3 days with temperature and energy")
    choice = search_balance_points(y, _daily_terms(t))
    return _ols_fit(t, y, choice.heating_c, choice.cooling_c)


def lag1_autocorrelation(residuals: Array) -> float:
    """Sample lag-1 autocorrelation, sum((r_i - mean)(r_i-1 - mean)) / sum((r_i - mean)^2) (the
    time-series definition NIST's StRD certifies); 0 when the residuals do not vary."""
    centred = residuals - residuals.mean()
    denominator = float(centred @ centred)
    if len(residuals) < 2 or denominator <= 0:
        return 0.0
    return float(centred[1:] @ centred[:-1]) / denominator


def _ols_fit(t: Array, y: Array, heating_c: float | None, cooling_c: float | None) -> BaselineFit:
    """Least squares for the chosen balance points, with the disclosed metrics."""
    n = len(y)
    columns = [np.ones(n)]
    if heating_c is not None:
        columns.append(np.maximum(heating_c - t, 0.0))
    if cooling_c is not None:
        columns.append(np.maximum(t - cooling_c, 0.0))
    x = np.column_stack(columns)
    if x.shape[1] == 1:
        beta = np.array([y.mean()])  # the intercept-only model is the mean, exactly
    else:
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    predicted = x @ beta
    residuals = y - predicted
    ssr = float(residuals @ residuals)
    y_mean = float(y.mean())
    sst = float(((y - y_mean) ** 2).sum())
    parameters = x.shape[1]
    dof = max(n - parameters, 1)
    heating_beta = float(beta[1]) if heating_c is not None else None
    cooling_beta = float(beta[-1]) if cooling_c is not None else None
    model_type = MODEL_TYPES[(heating_c is not None, cooling_c is not None)]
    r2 = 1.0 - ssr / sst if sst > 0 else 0.0
    adj = 1.0 - (1.0 - r2) * (n - 1) / (n - parameters) if sst > 0 and n > parameters else 0.0
    return BaselineFit(
        model_type=model_type,
        intercept_wh=float(beta[0]),
        heating_balance_point_c=heating_c,
        heating_wh_per_degree_day=heating_beta,
        cooling_balance_point_c=cooling_c,
        cooling_wh_per_degree_day=cooling_beta,
        n_days=n,
        r_squared=r2,
        adj_r_squared=adj,
        cvrmse=(ssr / dof) ** 0.5 / y_mean if y_mean else float("inf"),
        nmbe=float(residuals.sum()) / (dof * y_mean) if y_mean else 0.0,
        residual_autocorrelation=lag1_autocorrelation(residuals),
    )


def predict_daily_wh(fit: DegreeDayModel, temps_c: Sequence[float]) -> list[float]:
    """The counterfactual consumption of each day, from its mean outdoor temperature."""
    t = np.asarray(temps_c, dtype=np.float64)
    predicted = np.full(len(t), fit.intercept_wh)
    if fit.heating_balance_point_c is not None and fit.heating_wh_per_degree_day is not None:
        predicted += fit.heating_wh_per_degree_day * np.maximum(fit.heating_balance_point_c - t, 0)
    if fit.cooling_balance_point_c is not None and fit.cooling_wh_per_degree_day is not None:
        predicted += fit.cooling_wh_per_degree_day * np.maximum(t - fit.cooling_balance_point_c, 0)
    return [float(v) for v in np.maximum(predicted, 0.0)]
