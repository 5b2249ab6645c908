"""Whole-facility baseline model, CalTRACK daily method (IPMVP Option C). Pure: no I/O.

Daily consumption is regressed on heating and cooling degree days of the site's mean daily
outdoor temperature. Balance points are searched over CalTRACK's grid, 30-90 F in 3 F steps
(about -1.1 to 32.2 C), with the cooling balance point >= the heating one. Four candidate
models: intercept only, HDD only, CDD only, HDD + CDD. Candidates whose degree-day coefficients
are not positive, or whose balance point has too few degree days (CalTRACK: at least 10 days
with degree days and 20 degree-days F in total), are dropped; the highest adjusted R2 wins.

All candidate fits are solved at once from centred cross-product matrices (one matrix product
for every balance point pair), which is what makes a fit take about a millisecond.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

METHOD_VERSION = "caltrack-daily/1"
BALANCE_POINTS_F = tuple(range(30, 91, 3))
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

    @property
    def within_guideline_14(self) -> bool:
        return self.cvrmse <= MAX_CVRMSE and abs(self.nmbe) <= MAX_ABS_NMBE


def degree_days(temps_c: Array, balance_points_c: Sequence[float]) -> tuple[Array, Array]:
    """(HDD, CDD), each shaped (balance points, days)."""
    bp = np.asarray(balance_points_c, dtype=np.float64)[:, None]
    t = temps_c[None, :]
    return np.maximum(bp - t, 0.0), np.maximum(t - bp, 0.0)


def _sufficient(dd: Array) -> npt.NDArray[np.bool_]:
    enough_days = (dd > 0).sum(axis=1) >= MIN_DEGREE_DAY_DAYS
    enough_degrees = dd.sum(axis=1) >= MIN_DEGREE_DAYS_C
    result: npt.NDArray[np.bool_] = enough_days & enough_degrees
    return result


def fit_daily_baseline(temps_c: Sequence[float], energy_wh: Sequence[float]) -> BaselineFit:
    """Fit on usable days only (both a mean temperature and a complete day of energy)."""
    t = np.asarray(temps_c, dtype=np.float64)
    y = np.asarray(energy_wh, dtype=np.float64)
    n = len(y)
    if n < 3 or len(t) != n:
        raise ValueError("a baseline fit needs at least 3 days with temperature and energy")
    y_mean = float(y.mean())
    yc = y - y_mean
    sst = float(yc @ yc)

    hdd, cdd = degree_days(t, BALANCE_POINTS_C)
    h_ok, c_ok = _sufficient(hdd), _sufficient(cdd)
    hc = hdd - hdd.mean(axis=1, keepdims=True)
    cc = cdd - cdd.mean(axis=1, keepdims=True)
    s_hh = np.einsum("ij,ij->i", hc, hc)
    s_cc = np.einsum("ij,ij->i", cc, cc)
    s_hy = hc @ yc
    s_cy = cc @ yc
    s_hc = hc @ cc.T

    # Each candidate: (adjusted R2, model rank for ties, heating index, cooling index, betas, SSR)
    candidates: list[tuple[float, int, int, int, float, float, float]] = []

    def adj_r2(ssr: float, predictors: int) -> float:
        if sst <= 0 or n - predictors - 1 <= 0:
            return 0.0
        return 1.0 - (ssr / (n - predictors - 1)) / (sst / (n - 1))

    candidates.append((adj_r2(sst, 0), 0, -1, -1, 0.0, 0.0, sst))
    with np.errstate(divide="ignore", invalid="ignore"):
        beta_h = np.where(s_hh > 0, s_hy / s_hh, 0.0)
        beta_c = np.where(s_cc > 0, s_cy / s_cc, 0.0)
        for hi in np.flatnonzero(h_ok & (beta_h > 0)):
            ssr = sst - beta_h[hi] * s_hy[hi]
            candidates.append((adj_r2(ssr, 1), 1, int(hi), -1, float(beta_h[hi]), 0.0, ssr))
        for ci in np.flatnonzero(c_ok & (beta_c > 0)):
            ssr = sst - beta_c[ci] * s_cy[ci]
            candidates.append((adj_r2(ssr, 1), 2, -1, int(ci), 0.0, float(beta_c[ci]), ssr))

        det = s_hh[:, None] * s_cc[None, :] - s_hc**2
        b_h = (s_cc[None, :] * s_hy[:, None] - s_hc * s_cy[None, :]) / det
        b_c = (s_hh[:, None] * s_cy[None, :] - s_hc * s_hy[:, None]) / det
        bp = np.asarray(BALANCE_POINTS_C)
        valid = (
            h_ok[:, None]
            & c_ok[None, :]
            & (bp[None, :] >= bp[:, None])
            & (det > 1e-9 * s_hh[:, None] * s_cc[None, :])
            & (b_h > 0)
            & (b_c > 0)
        )
        for hi, ci in zip(*np.nonzero(valid), strict=True):
            ssr = sst - b_h[hi, ci] * s_hy[hi] - b_c[hi, ci] * s_cy[ci]
            candidates.append(
                (adj_r2(ssr, 2), 3, int(hi), int(ci), float(b_h[hi, ci]), float(b_c[hi, ci]), ssr)
            )

    # Highest adjusted R2; on a tie the simpler model, then the lower balance points.
    best = max(candidates, key=lambda c: (round(c[0], 12), -c[1], -c[2], -c[3]))
    rank, i, j = best[1], best[2], best[3]
    bh, bcool = best[4], best[5]
    model_type = ("intercept_only", "hdd_only", "cdd_only", "hdd_cdd")[rank]
    h_mean = float(hdd[i].mean()) if i >= 0 else 0.0
    c_mean = float(cdd[j].mean()) if j >= 0 else 0.0
    intercept = y_mean - bh * h_mean - bcool * c_mean
    predicted = np.full(n, intercept)
    if i >= 0:
        predicted = predicted + bh * hdd[i]
    if j >= 0:
        predicted = predicted + bcool * cdd[j]
    residuals = y - predicted
    ssr_direct = float(residuals @ residuals)
    parameters = 1 + int(i >= 0) + int(j >= 0)
    dof = max(n - parameters, 1)
    r2 = 1.0 - ssr_direct / sst if sst > 0 else 0.0
    return BaselineFit(
        model_type=model_type,
        intercept_wh=float(intercept),
        heating_balance_point_c=BALANCE_POINTS_C[i] if i >= 0 else None,
        heating_wh_per_degree_day=bh if i >= 0 else None,
        cooling_balance_point_c=BALANCE_POINTS_C[j] if j >= 0 else None,
        cooling_wh_per_degree_day=bcool if j >= 0 else None,
        n_days=n,
        r_squared=r2,
        adj_r_squared=adj_r2(ssr_direct, parameters - 1),
        cvrmse=(ssr_direct / dof) ** 0.5 / y_mean if y_mean else float("inf"),
        nmbe=float(residuals.sum()) / (dof * y_mean) if y_mean else 0.0,
    )


def predict_daily_wh(fit: BaselineFit, temps_c: Sequence[float]) -> list[float]:
    """The counterfactual consumption of each day, from its mean outdoor temperature."""
    t = np.asarray(temps_c, dtype=np.float64)
    predicted = np.full(len(t), fit.intercept_wh)
    if fit.heating_balance_point_c is not None and fit.heating_wh_per_degree_day is not None:
        predicted += fit.heating_wh_per_degree_day * np.maximum(fit.heating_balance_point_c - t, 0)
    if fit.cooling_balance_point_c is not None and fit.cooling_wh_per_degree_day is not None:
        predicted += fit.cooling_wh_per_degree_day * np.maximum(t - fit.cooling_balance_point_c, 0)
    return [float(v) for v in np.maximum(predicted, 0.0)]
