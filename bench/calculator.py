#!/usr/bin/env python3
"""Impact calculator benchmark: our CalTRACK daily baseline against OpenEEmeter's daily model.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/calculator.py                      # 1,000 assets, eemeter on 50
    .venv/bin/python bench/calculator.py --eemeter-sample 200
    .venv/bin/python bench/calculator.py --no-eemeter         # ours only, no extra needed
    .venv/bin/python bench/calculator.py --billing            # billing models (issue 15)

eemeter is an optional extra: ``.venv/bin/pip install -e '.[bench]'``. It is imported inside
the function that runs it, so this file lints and runs without it.

What it does:

1. builds ``--assets`` synthetic assets (seeded, deterministic), each with two years of daily
   data: 2022 is the baseline year, 2023 the reporting year (365 days each, Asia/Tokyo).

   * temperature: Tokyo-like daily mean, ``mean - amplitude * cos(2 pi (doy - lag) / 365.25)``
     with mean 15.5-16.5 C, amplitude 8-11 C, coldest day 15-30 January, plus AR(1) weather
     noise (lag-1 correlation 0.7, standard deviation 2-3 C);
   * true model: intercept 200-2000 kWh/day (in Wh); 60 % of the assets heating + cooling,
     20 % heating only, 20 % cooling only; heating balance point 12-18 C, cooling balance
     point 18-24 C (and at least 1 C above the heating one); slopes 2-8 % (heating) and
     3-10 % (cooling) of the intercept per degree-day C. Balance points are continuous, so
     they generally fall between the points of CalTRACK's 3 F grid;
   * metered consumption: ``counterfactual * (1 + e)``, e ~ N(0, 5 %) daily, in the baseline
     year; ``counterfactual * (1 - s) * (1 + e)`` in the reporting year, with a savings
     fraction s drawn from 5-30 % per asset;

2. truth: TRUE SAVINGS = sum over the reporting year of (noise-free counterfactual - metered),
   where the noise-free counterfactual is the true model evaluated at the day's temperature.
   Every model's estimate is sum(predicted) - sum(metered), so its error is exactly
   sum(predicted) - sum(noise-free counterfactual): the model's own error, not the metering
   noise of the reporting year;
3. ours: ``fit_daily_baseline`` on the baseline year and ``predict_daily_wh`` on the reporting
   year for every asset, timed with ``time.perf_counter`` around the whole loop;
4. eemeter: ``DailyModel`` (eemeter 4.x; ``--eemeter-models``: ``legacy`` is its CalTRACK 2.0
   settings, ``current`` its default 4.x model with seasonal / weekday splits and smoothed
   change points) on a random sample of ``--eemeter-sample`` assets, after one untimed warm-up
   fit (numba compiles on the first call). Timed per asset: building ``DailyBaselineData`` and
   ``DailyReportingData`` from ready-made DataFrames (temperature in F), ``fit`` and
   ``predict``; the split between the three is printed too;
5. prints the machine, the time per asset, the savings errors against the truth (mean
   absolute percentage error over the assets, and the aggregate error of the summed
   savings), and the assets where our estimate is furthest from the truth.

``--billing`` compares billing-period models instead (issue 15). The same synthetic assets get
a meter-read day of the month (1-28, seeded); their baseline-year consumption becomes monthly
bills between reads, wholly inside 2022 (11 bills, or 12 when the read day is the 1st). Ours:
``fit_billing_baseline_period`` (CalTRACK billing) on the bills and the daily temperatures, then
``predict_daily_wh`` for every day of 2023. eemeter: ``BillingModel`` on the same bills (as
``BillingBaselineData.from_series``: bill starts, a final NaN row closing the last bill, daily
temperatures in F), predicting 2023 from ``BillingReportingData``. Truth and errors as above;
our daily model on the assets' daily data is shown for reference (what billing loses). Then both
billing models on eemeter's own simulated billing samples (``eemeter.eemeter.samples``: Illinois
electricity and gas, monthly and bimonthly bills, hourly temperatures), whose metadata state the
savings the simulation put in: 10 % of every load.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import os
import platform
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.pure.calc.baseline import (
    BaselineFit,
    fit_daily_baseline,
    predict_daily_wh,
)
from app.pure.calc.billing import (
    BillingFit,
    BillingPeriod,
    fit_billing_baseline_period,
)

Array = npt.NDArray[np.float64]

DAYS = 365  # per year; 2022 and 2023 are not leap years
BASELINE_START = "2022-01-01"
TIMEZONE = "Asia/Tokyo"
NOISE = 0.05
MODEL_TYPES = ("hdd_cdd", "hdd_only", "cdd_only")
MODEL_TYPE_WEIGHTS = (0.6, 0.2, 0.2)
WORST_SHOWN = 8


# --- synthetic data ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrueModel:
    model_type: str
    intercept_wh: float
    heating_bp_c: float | None
    heating_wh_per_dd: float | None
    cooling_bp_c: float | None
    cooling_wh_per_dd: float | None

    def predict(self, temps_c: Array) -> Array:
        result = np.full(len(temps_c), self.intercept_wh)
        if self.heating_bp_c is not None and self.heating_wh_per_dd is not None:
            result += self.heating_wh_per_dd * np.maximum(self.heating_bp_c - temps_c, 0.0)
        if self.cooling_bp_c is not None and self.cooling_wh_per_dd is not None:
            result += self.cooling_wh_per_dd * np.maximum(temps_c - self.cooling_bp_c, 0.0)
        return result


@dataclass(frozen=True)
class Asset:
    index: int
    truth: TrueModel
    savings_fraction: float
    temps_c: Array  # 2 * DAYS
    metered_wh: Array  # 2 * DAYS
    counterfactual_wh: Array  # 2 * DAYS, noise-free, no savings

    @property
    def true_savings_wh(self) -> float:
        return float(self.counterfactual_wh[DAYS:].sum() - self.metered_wh[DAYS:].sum())


def _temperatures(rng: np.random.Generator) -> Array:
    days = np.arange(2 * DAYS)
    mean = rng.uniform(15.5, 16.5)
    amplitude = rng.uniform(8.0, 11.0)
    coldest = rng.uniform(15.0, 30.0)  # day of year
    sd = rng.uniform(2.0, 3.0)
    phi = 0.7
    shocks = rng.normal(0.0, sd * np.sqrt(1 - phi**2), len(days))
    noise = np.empty(len(days))
    noise[0] = rng.normal(0.0, sd)
    for d in range(1, len(days)):
        noise[d] = phi * noise[d - 1] + shocks[d]
    seasonal = mean - amplitude * np.cos(2 * np.pi * (days - coldest) / 365.25)
    result: Array = seasonal + noise
    return result


def _true_model(rng: np.random.Generator) -> TrueModel:
    model_type = str(rng.choice(MODEL_TYPES, p=MODEL_TYPE_WEIGHTS))
    intercept = rng.uniform(200.0, 2000.0) * 1000.0
    heating_bp = rng.uniform(12.0, 18.0)
    cooling_bp = rng.uniform(max(18.0, heating_bp + 1.0), 24.0)
    heating_slope = intercept * rng.uniform(0.02, 0.08)
    cooling_slope = intercept * rng.uniform(0.03, 0.10)
    heats = model_type in ("hdd_cdd", "hdd_only")
    cools = model_type in ("hdd_cdd", "cdd_only")
    return TrueModel(
        model_type=model_type,
        intercept_wh=intercept,
        heating_bp_c=heating_bp if heats else None,
        heating_wh_per_dd=heating_slope if heats else None,
        cooling_bp_c=cooling_bp if cools else None,
        cooling_wh_per_dd=cooling_slope if cools else None,
    )


def make_assets(count: int, seed: int, noise: float = NOISE) -> list[Asset]:
    rng = np.random.default_rng(seed)
    assets = []
    for i in range(count):
        temps = _temperatures(rng)
        truth = _true_model(rng)
        savings = rng.uniform(0.05, 0.30)
        counterfactual = truth.predict(temps)
        factor = np.ones(2 * DAYS)
        factor[DAYS:] = 1.0 - savings
        metered = counterfactual * factor * (1.0 + rng.normal(0.0, noise, 2 * DAYS))
        assets.append(Asset(i, truth, savings, temps, metered, counterfactual))
    return assets


# --- our model -----------------------------------------------------------------------------


@dataclass
class OursResult:
    savings_wh: list[float]
    fits: list[BaselineFit]
    seconds: float  # wall clock (perf_counter) around the whole loop
    cpu_seconds: float  # this process's CPU time over the same loop


def run_ours(assets: Sequence[Asset]) -> OursResult:
    # The service hands the calculator lists of floats; build them before the clock starts.
    inputs = [
        (
            asset.temps_c[:DAYS].tolist(),
            asset.metered_wh[:DAYS].tolist(),
            asset.temps_c[DAYS:].tolist(),
            asset.metered_wh[DAYS:].tolist(),
        )
        for asset in assets
    ]
    savings: list[float] = []
    fits: list[BaselineFit] = []
    cpu_start, start = time.process_time(), time.perf_counter()
    for base_t, base_wh, report_t, report_wh in inputs:
        fit = fit_daily_baseline(base_t, base_wh)
        predicted = predict_daily_wh(fit, report_t)
        savings.append(sum(predicted) - sum(report_wh))
        fits.append(fit)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return OursResult(savings, fits, seconds, cpu_seconds)


# --- eemeter -------------------------------------------------------------------------------


@dataclass
class EemeterResult:
    model: str
    savings_wh: list[float]
    descriptions: list[str]
    seconds: float  # data objects + fit + predict, wall clock summed over the sample
    cpu_seconds: float  # this process's CPU time over the same loop
    data_seconds: float
    fit_seconds: float
    predict_seconds: float
    warmup_seconds: float
    disqualified: int
    nan_days: int


def _describe_eemeter(params: Any) -> str:
    parts = []
    for split, sub in params.submodels.items():
        c = sub.coefficients
        text = f"{split}: {c.model_type.value} b0={c.intercept / 1000:.0f}kWh"
        if c.hdd_bp is not None and c.hdd_beta:
            text += f" h@{(c.hdd_bp - 32) * 5 / 9:.1f}C x{c.hdd_beta * 9 / 5 / 1000:.1f}kWh/C"
        if c.cdd_bp is not None and c.cdd_beta:
            text += f" c@{(c.cdd_bp - 32) * 5 / 9:.1f}C x{c.cdd_beta * 9 / 5 / 1000:.1f}kWh/C"
        parts.append(text)
    return "; ".join(parts)


def run_eemeter(assets: Sequence[Asset], model: str) -> EemeterResult:
    """eemeter 4.x daily model. Imported here: it is an optional extra."""
    pd: Any = importlib.import_module("pandas")
    daily: Any = importlib.import_module("eemeter.eemeter.models.daily")
    logging.getLogger("eemeter").setLevel(logging.ERROR)  # per-asset data-quality notices

    index = pd.date_range(BASELINE_START, periods=2 * DAYS, freq="D", tz=TIMEZONE)

    def frames(asset: Asset) -> tuple[Any, Any]:
        df = pd.DataFrame(
            {"observed": asset.metered_wh, "temperature": asset.temps_c * 9 / 5 + 32},
            index=index,
        )
        return df.iloc[:DAYS], df.iloc[DAYS:]

    def fit_predict(baseline_df: Any, reporting_df: Any) -> tuple[Any, Any, Any, list[float]]:
        t0 = time.perf_counter()
        baseline = daily.DailyBaselineData(baseline_df, is_electricity_data=True)
        reporting = daily.DailyReportingData(reporting_df, is_electricity_data=True)
        t1 = time.perf_counter()
        fitted = daily.DailyModel(model=model).fit(baseline, ignore_disqualification=True)
        t2 = time.perf_counter()
        predicted = fitted.predict(reporting, ignore_disqualification=True)
        t3 = time.perf_counter()
        return fitted, baseline, predicted, [t1 - t0, t2 - t1, t3 - t2]

    # Warm-up, untimed in the figures: numba compiles eemeter's kernels on the first fit.
    warm_up_asset = make_assets(1, seed=1)[0]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_predict(*frames(warm_up_asset))
    warmup = time.perf_counter() - start

    prepared = [frames(asset) for asset in assets]
    savings: list[float] = []
    descriptions: list[str] = []
    split = np.zeros(3)
    disqualified = nan_days = 0
    cpu_start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for asset, (baseline_df, reporting_df) in zip(assets, prepared, strict=True):
            fitted, baseline, predicted, seconds = fit_predict(baseline_df, reporting_df)
            split += seconds
            disqualified += bool(baseline.disqualification or fitted.disqualification)
            values = predicted["predicted"].to_numpy(dtype=np.float64)
            nan_days += int(np.isnan(values).sum())
            savings.append(float(np.nansum(values)) - float(asset.metered_wh[DAYS:].sum()))
            descriptions.append(_describe_eemeter(fitted.params))
    cpu_seconds = time.process_time() - cpu_start
    return EemeterResult(
        model=model,
        savings_wh=savings,
        descriptions=descriptions,
        seconds=float(split.sum()),
        cpu_seconds=cpu_seconds,
        data_seconds=float(split[0]),
        fit_seconds=float(split[1]),
        predict_seconds=float(split[2]),
        warmup_seconds=warmup,
        disqualified=disqualified,
        nan_days=nan_days,
    )


# --- billing models (--billing) -------------------------------------------------------------

BASELINE_FIRST_DAY = date(2022, 1, 1)


def read_days(count: int, seed: int) -> list[int]:
    """Each asset's meter-read day of the month, 1-28."""
    rng = np.random.default_rng([seed, 2])
    return [int(d) for d in rng.integers(1, 29, count)]


def bill_cuts(read_day: int) -> list[date]:
    """The read dates that bound the baseline year's bills: monthly on ``read_day``, the last
    bill ending by 1 January 2023 (no reporting-year consumption billed into the baseline)."""
    cuts = [date(2022, month, read_day) for month in range(1, 13)]
    return [*cuts, date(2023, 1, 1)] if read_day == 1 else cuts


def baseline_bills(asset: Asset, read_day: int) -> list[BillingPeriod]:
    cuts = bill_cuts(read_day)
    return [
        BillingPeriod(
            start,
            end,
            round(
                float(
                    asset.metered_wh[
                        (start - BASELINE_FIRST_DAY).days : (end - BASELINE_FIRST_DAY).days
                    ].sum()
                )
            ),
        )
        for start, end in pairwise(cuts)
    ]


@dataclass
class OursBillingResult:
    savings_wh: list[float]  # nan where the bills were refused
    fits: list[BillingFit | None]
    reasons: list[str]
    seconds: float
    cpu_seconds: float


def run_ours_billing(assets: Sequence[Asset], reads: Sequence[int]) -> OursBillingResult:
    days = [BASELINE_FIRST_DAY + timedelta(days=d) for d in range(DAYS)]
    inputs = [
        (
            baseline_bills(asset, read),
            dict(zip(days, asset.temps_c[:DAYS].tolist(), strict=True)),
            asset.temps_c[DAYS:].tolist(),
            asset.metered_wh[DAYS:].tolist(),
        )
        for asset, read in zip(assets, reads, strict=True)
    ]
    savings: list[float] = []
    fits: list[BillingFit | None] = []
    reasons: list[str] = []
    cpu_start, start = time.process_time(), time.perf_counter()
    for bills, temps, report_t, report_wh in inputs:
        fit, reason = fit_billing_baseline_period(bills, temps, BASELINE_FIRST_DAY)
        if fit is None:
            savings.append(float("nan"))
        else:
            savings.append(sum(predict_daily_wh(fit, report_t)) - sum(report_wh))
        fits.append(fit)
        reasons.append(reason)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return OursBillingResult(savings, fits, reasons, seconds, cpu_seconds)


def run_eemeter_billing(assets: Sequence[Asset], reads: Sequence[int]) -> EemeterResult:
    """eemeter 4.x BillingModel. Imported here: it is an optional extra."""
    pd: Any = importlib.import_module("pandas")
    billing: Any = importlib.import_module("eemeter.eemeter.models.billing")
    logging.getLogger("eemeter").setLevel(logging.ERROR)
    index = pd.date_range(BASELINE_START, periods=2 * DAYS, freq="D", tz=TIMEZONE)

    def frames(asset: Asset, read: int) -> tuple[Any, Any, Any]:
        bills = baseline_bills(asset, read)
        starts = [pd.Timestamp(b.start, tz=TIMEZONE) for b in bills]
        meter = pd.Series(
            [float(b.energy_wh) for b in bills] + [float("nan")],
            index=pd.DatetimeIndex([*starts, pd.Timestamp(bills[-1].end, tz=TIMEZONE)]),
        )
        temperature = pd.Series(asset.temps_c * 9 / 5 + 32, index=index)
        return meter, temperature.iloc[:DAYS], temperature.iloc[DAYS:]

    def fit_predict(meter: Any, base_t: Any, report_t: Any) -> tuple[Any, Any, Any, list[float]]:
        t0 = time.perf_counter()
        baseline = billing.BillingBaselineData.from_series(meter, base_t, is_electricity_data=True)
        reporting = billing.BillingReportingData.from_series(
            None, report_t, is_electricity_data=True
        )
        t1 = time.perf_counter()
        fitted = billing.BillingModel().fit(baseline, ignore_disqualification=True)
        t2 = time.perf_counter()
        predicted = fitted.predict(reporting, ignore_disqualification=True)
        t3 = time.perf_counter()
        return fitted, baseline, predicted, [t1 - t0, t2 - t1, t3 - t2]

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_predict(*frames(make_assets(1, seed=1)[0], 15))  # numba compiles: untimed
    warmup = time.perf_counter() - start

    prepared = [frames(asset, read) for asset, read in zip(assets, reads, strict=True)]
    savings: list[float] = []
    descriptions: list[str] = []
    split = np.zeros(3)
    disqualified = nan_days = 0
    cpu_start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for asset, (meter, base_t, report_t) in zip(assets, prepared, strict=True):
            fitted, baseline, predicted, seconds = fit_predict(meter, base_t, report_t)
            split += seconds
            disqualified += bool(baseline.disqualification or fitted.disqualification)
            values = predicted["predicted"].to_numpy(dtype=np.float64)
            nan_days += int(np.isnan(values).sum())
            savings.append(float(np.nansum(values)) - float(asset.metered_wh[DAYS:].sum()))
            descriptions.append(_describe_eemeter(fitted.params))
    return EemeterResult(
        model="BillingModel",
        savings_wh=savings,
        descriptions=descriptions,
        seconds=float(split.sum()),
        cpu_seconds=time.process_time() - cpu_start,
        data_seconds=float(split[0]),
        fit_seconds=float(split[1]),
        predict_seconds=float(split[2]),
        warmup_seconds=warmup,
        disqualified=disqualified,
        nan_days=nan_days,
    )


def describe_billing_fit(fit: BillingFit) -> str:
    text = f"{fit.model_type} b0={fit.intercept_wh / 1000:.0f}kWh"
    if fit.heating_balance_point_c is not None and fit.heating_wh_per_degree_day is not None:
        text += f" h@{fit.heating_balance_point_c:.1f}C x{fit.heating_wh_per_degree_day / 1000:.1f}"
        text += "kWh/C"
    if fit.cooling_balance_point_c is not None and fit.cooling_wh_per_degree_day is not None:
        text += f" c@{fit.cooling_balance_point_c:.1f}C x{fit.cooling_wh_per_degree_day / 1000:.1f}"
        text += "kWh/C"
    return text + f" adjR2={fit.adj_r_squared:.3f} cvrmse={fit.cvrmse:.3f} bills={fit.n_periods}"


SAMPLE_TIMEZONE = "America/Chicago"  # eemeter's samples: Illinois, bills read at local midnight


@dataclass(frozen=True)
class SampleComparison:
    sample: str
    designed_fraction: float  # 1 - annual reporting load / annual baseline load (metadata)
    ours_fraction: float | None  # estimated savings / estimated counterfactual; None: refused
    ours_text: str
    eemeter_fraction: float
    eemeter_text: str
    reporting_days: int


def compare_on_eemeter_samples() -> list[SampleComparison]:
    """Both billing models on eemeter's simulated billing samples. The baseline window is the
    365 days before the last read on or before the blackout start (the intervention); ours uses
    the bills wholly inside it and eemeter gets exactly those bills. Reporting: the bills from
    the first read after the blackout end on; the estimated savings fraction is (counterfactual -
    metered) / counterfactual over their days, to compare with the simulation's 10 %."""
    pd: Any = importlib.import_module("pandas")
    samples: Any = importlib.import_module("eemeter.eemeter.samples.load")
    billing: Any = importlib.import_module("eemeter.eemeter.models.billing")
    logging.getLogger("eemeter").setLevel(logging.ERROR)
    results = []
    for name in (s for s in samples.samples() if "billing" in s):
        meter, hourly_f, meta = samples.load_sample(name)
        electricity = meta["interpretation"] == "electricity"
        local = hourly_f.tz_convert(SAMPLE_TIMEZONE)
        by_day = local.groupby(local.index.date)
        daily_f = by_day.mean().where(by_day.count() >= 12)  # CalTRACK: half the hours at least
        temps_c = {d: (float(f) - 32) * 5 / 9 for d, f in daily_f.dropna().items()}
        reads = [ts.tz_convert(SAMPLE_TIMEZONE).date() for ts in meter.index]
        bills = [
            BillingPeriod(a, b, round(float(v) * 1000))  # kWh (therms for gas) x 1000: "Wh"
            for a, b, v in zip(reads, reads[1:], meter["value"].tolist(), strict=False)
            if not np.isnan(v)
        ]
        blackout_start = (
            pd.Timestamp(meta["blackout_start_date"]).tz_convert(SAMPLE_TIMEZONE).date()
        )
        blackout_end = pd.Timestamp(meta["blackout_end_date"]).tz_convert(SAMPLE_TIMEZONE).date()
        window_end = max(r for r in reads if r <= blackout_start)
        baseline_start = window_end - timedelta(days=365)
        fit, reason = fit_billing_baseline_period(bills, temps_c, baseline_start)
        used = [b for b in bills if baseline_start <= b.start and b.end <= window_end]
        reporting = [b for b in bills if b.start >= blackout_end]
        report_days = [b.start + timedelta(days=k) for b in reporting for k in range(b.days)]
        metered = sum(b.energy_wh for b in reporting)
        ours_fraction = None
        ours_text = f"refused: {reason}"
        if fit is not None:
            counterfactual = sum(
                predict_daily_wh(fit, [temps_c[d] for d in report_days if d in temps_c])
            )
            ours_fraction = (counterfactual - metered) / counterfactual
            ours_text = describe_billing_fit(fit)

        def series(selected: Sequence[BillingPeriod]) -> Any:
            index = [pd.Timestamp(b.start, tz=SAMPLE_TIMEZONE) for b in selected]
            index.append(pd.Timestamp(selected[-1].end, tz=SAMPLE_TIMEZONE))
            values = [float(b.energy_wh) for b in selected] + [float("nan")]
            return pd.Series(values, index=pd.DatetimeIndex(index))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            baseline = billing.BillingBaselineData.from_series(
                series(used), hourly_f, is_electricity_data=electricity
            )
            fitted = billing.BillingModel().fit(baseline, ignore_disqualification=True)
            report = billing.BillingReportingData.from_series(
                series(reporting), hourly_f, is_electricity_data=electricity
            )
            predicted = fitted.predict(report, ignore_disqualification=True)
        in_reporting = predicted.index.tz_convert(SAMPLE_TIMEZONE).date
        wanted = set(report_days)
        counterfactual_ee = float(
            np.nansum(predicted["predicted"].to_numpy()[[d in wanted for d in in_reporting]])
        )
        results.append(
            SampleComparison(
                sample=name,
                designed_fraction=1
                - meta["annual_reporting_total_load"] / meta["annual_baseline_total_load"],
                ours_fraction=ours_fraction,
                ours_text=ours_text,
                eemeter_fraction=(counterfactual_ee - metered) / counterfactual_ee,
                eemeter_text=_describe_eemeter(fitted.params),
                reporting_days=len(report_days),
            )
        )
    return results


def main_billing(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    assets = make_assets(args.assets, args.seed, args.noise)
    reads = read_days(args.assets, args.seed)
    truths = [a.true_savings_wh for a in assets]
    print(
        f"data: {args.assets} assets, baseline 2022 as monthly bills (read day 1-28 per asset, "
        f"bills wholly inside 2022), reporting 2023 daily ({TIMEZONE}), seed {args.seed}, "
        f"daily noise {args.noise:.1%}, built in {time.perf_counter() - start:.1f} s"
    )
    print(f"  true savings total {sum(truths) / 1e9:,.1f} GWh; truth and errors as in daily mode")
    print()

    ours = run_ours_billing(assets, reads)
    ours_ms = ours.seconds / len(assets) * 1000
    fitted = [i for i, fit in enumerate(ours.fits) if fit is not None]
    print("ours: app.pure.calc.billing fit_billing_baseline_period + predict_daily_wh")
    print(
        f"  time            {ours.seconds:.3f} s total, {ours_ms:.3f} ms per asset "
        f"(CPU {ours.cpu_seconds / len(assets) * 1000:.3f} ms)"
    )
    kinds: dict[str, int] = {}
    for fit in ours.fits:
        if fit is not None:
            kinds[fit.model_type] = kinds.get(fit.model_type, 0) + 1
    print(f"  models picked   {', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}")
    print(f"  refused         {len(assets) - len(fitted)} (data sufficiency)")
    bills = [fit.n_periods for fit in ours.fits if fit is not None]
    print(f"  bills per fit   {min(bills)}-{max(bills)}")
    print(
        error_line(
            f"savings error, {len(fitted)} fitted",
            errors([ours.savings_wh[i] for i in fitted], [truths[i] for i in fitted]),
        )
    )
    daily = run_ours(assets)
    print(
        error_line(
            "reference: our daily model",
            errors([daily.savings_wh[i] for i in fitted], [truths[i] for i in fitted]),
        )
    )
    print()

    if args.no_eemeter or args.eemeter_sample == 0:
        return 0
    sample_rng = np.random.default_rng([args.seed, 1])
    sample = sorted(int(i) for i in sample_rng.permutation(args.assets)[: args.eemeter_sample])
    sample = [i for i in sample if ours.fits[i] is not None]
    print(f"eemeter {version_of('eemeter')} BillingModel: sample of {len(sample)} assets")
    try:
        theirs = run_eemeter_billing([assets[i] for i in sample], [reads[i] for i in sample])
    except Exception as exc:  # report why, still show the shipped samples
        print(f"  BillingModel failed: {type(exc).__name__}: {exc}")
    else:
        n = len(sample)
        ms, cpu_ms = theirs.seconds / n * 1000, theirs.cpu_seconds / n * 1000
        ours_cpu_ms = ours.cpu_seconds / len(assets) * 1000
        print(f"  {'time per asset, ms':<36} {'wall':>9} {'ratio':>7} {'CPU':>9} {'ratio':>7}")
        print(f"  {'ours (fit + predict)':<36} {ours_ms:9.3f} {'':>7} {ours_cpu_ms:9.3f}")
        print(
            f"  {'eemeter (data + fit + predict)':<36} {ms:9.1f} {ms / ours_ms:6.0f}x "
            f"{cpu_ms:9.1f} {cpu_ms / ours_cpu_ms:6.0f}x"
        )
        print(
            f"  {'':<36} data objects {theirs.data_seconds / n * 1000:.1f} ms, fit "
            f"{theirs.fit_seconds / n * 1000:.1f} ms, predict "
            f"{theirs.predict_seconds / n * 1000:.1f} ms; warm-up (untimed) "
            f"{theirs.warmup_seconds:.1f} s; disqualified {theirs.disqualified}, "
            f"NaN days {theirs.nan_days}"
        )
        sample_truths = [truths[i] for i in sample]
        ours_sample = [ours.savings_wh[i] for i in sample]
        print("  savings error vs truth, same assets")
        print(error_line("ours (billing)", errors(ours_sample, sample_truths)))
        print(error_line("eemeter BillingModel", errors(theirs.savings_wh, sample_truths)))
        print(
            error_line(
                "reference: our daily model",
                errors([daily.savings_wh[i] for i in sample], sample_truths),
            )
        )
        ours_ape = np.abs(np.subtract(ours_sample, sample_truths)) / np.abs(sample_truths)
        their_ape = np.abs(np.subtract(theirs.savings_wh, sample_truths)) / np.abs(sample_truths)
        diff = ours_ape - their_ape
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        print(
            f"  paired |ours error| - |eemeter error|: mean {diff.mean():+.3%} (standard error "
            f"{se:.3%}); ours closer on {int((diff < 0).sum())} of {len(diff)} assets"
        )
        worst = sorted(range(len(sample)), key=lambda k: -their_ape[k])[:3]
        for k in worst:
            i = sample[k]
            print(
                f"  asset {i:4d} eemeter error {their_ape[k]:6.2%}, ours {ours_ape[k]:6.2%}; "
                f"truth {describe_truth(assets[i])}"
            )
            fit = ours.fits[i]
            assert fit is not None
            print(f"    ours    {describe_billing_fit(fit)}")
            print(f"    eemeter {theirs.descriptions[k]}")
    print()

    print("eemeter's own billing samples (simulated; designed savings 10 % of every load)")
    try:
        comparisons = compare_on_eemeter_samples()
    except Exception as exc:
        print(f"  failed: {type(exc).__name__}: {exc}")
        return 0
    for c in comparisons:
        ours_text = "refused" if c.ours_fraction is None else f"{c.ours_fraction:6.2%}"
        print(
            f"  {c.sample:<42} designed {c.designed_fraction:.1%}  ours {ours_text}  "
            f"eemeter {c.eemeter_fraction:6.2%}  ({c.reporting_days} reporting days)"
        )
        print(f"    ours    {c.ours_text}")
        print(f"    eemeter {c.eemeter_text}")
    return 0


# --- reporting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Errors:
    mape: float
    median_ape: float
    p90_ape: float
    max_ape: float
    aggregate: float  # (sum of estimates - sum of truths) / sum of truths
    mean_bias: float  # mean signed percentage error


def errors(estimates: Sequence[float], truths: Sequence[float]) -> Errors:
    est = np.asarray(estimates, dtype=np.float64)
    tru = np.asarray(truths, dtype=np.float64)
    signed = (est - tru) / np.abs(tru)
    ape = np.abs(signed)
    return Errors(
        mape=float(ape.mean()),
        median_ape=float(np.median(ape)),
        p90_ape=float(np.percentile(ape, 90)),
        max_ape=float(ape.max()),
        aggregate=float((est.sum() - tru.sum()) / tru.sum()),
        mean_bias=float(signed.mean()),
    )


def error_line(label: str, e: Errors) -> str:
    return (
        f"  {label:<34} MAPE {e.mape:7.2%}  median {e.median_ape:6.2%}  p90 {e.p90_ape:6.2%}"
        f"  max {e.max_ape:7.2%}  mean signed {e.mean_bias:+6.2%}  aggregate {e.aggregate:+7.3%}"
    )


def describe_truth(asset: Asset) -> str:
    t = asset.truth
    text = f"{t.model_type} b0={t.intercept_wh / 1000:.0f}kWh"
    if t.heating_bp_c is not None and t.heating_wh_per_dd is not None:
        text += f" h@{t.heating_bp_c:.1f}C x{t.heating_wh_per_dd / 1000:.1f}kWh/C"
    if t.cooling_bp_c is not None and t.cooling_wh_per_dd is not None:
        text += f" c@{t.cooling_bp_c:.1f}C x{t.cooling_wh_per_dd / 1000:.1f}kWh/C"
    return text


def describe_fit(fit: BaselineFit) -> str:
    text = f"{fit.model_type} b0={fit.intercept_wh / 1000:.0f}kWh"
    if fit.heating_balance_point_c is not None and fit.heating_wh_per_degree_day is not None:
        text += f" h@{fit.heating_balance_point_c:.1f}C x{fit.heating_wh_per_degree_day / 1000:.1f}"
        text += "kWh/C"
    if fit.cooling_balance_point_c is not None and fit.cooling_wh_per_degree_day is not None:
        text += f" c@{fit.cooling_balance_point_c:.1f}C x{fit.cooling_wh_per_degree_day / 1000:.1f}"
        text += "kWh/C"
    return text + f" adjR2={fit.adj_r_squared:.3f} cvrmse={fit.cvrmse:.3f}"


def version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine() -> None:
    print("machine")
    print(f"  platform        {platform.platform()}")
    print(f"  cpu             {cpu_model()}, {os.cpu_count()} logical CPUs")
    print(f"  python          {platform.python_version()} ({sys.executable})")
    print(f"  numpy           {np.__version__}")
    for package in ("pandas", "eemeter", "numba", "scipy"):
        print(f"  {package:<15} {version_of(package)}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--assets", type=int, default=1000, help="synthetic assets (1000)")
    parser.add_argument("--seed", type=int, default=20240601, help="RNG seed (20240601)")
    parser.add_argument(
        "--eemeter-sample",
        type=int,
        default=50,
        help="assets run through eemeter, a random sample (50; --assets for all)",
    )
    parser.add_argument(
        "--eemeter-models",
        default="legacy,current",
        help="eemeter DailyModel variants, comma-separated: legacy, current (both)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=NOISE,
        help=f"daily multiplicative noise, standard deviation ({NOISE})",
    )
    parser.add_argument("--no-eemeter", action="store_true", help="run our model only")
    parser.add_argument(
        "--billing",
        action="store_true",
        help="billing-period models: ours (CalTRACK billing) vs eemeter's BillingModel",
    )
    args = parser.parse_args(argv)
    if args.assets < 1:
        parser.error("--assets must be at least 1")
    models = [m.strip() for m in args.eemeter_models.split(",") if m.strip()]
    if not set(models) <= {"legacy", "current"}:
        parser.error("--eemeter-models takes legacy and/or current")
    args.eemeter_models = models
    args.eemeter_sample = max(0, min(args.eemeter_sample, args.assets))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"bench/calculator.py  {' '.join(sys.argv[1:]) or '(defaults)'}")
    print_machine()
    print()
    if args.billing:
        return main_billing(args)

    start = time.perf_counter()
    assets = make_assets(args.assets, args.seed, args.noise)
    kinds = {k: sum(a.truth.model_type == k for a in assets) for k in MODEL_TYPES}
    truths = [a.true_savings_wh for a in assets]
    built = time.perf_counter() - start
    print(
        f"data: {args.assets} assets x {2 * DAYS} days (baseline 2022, reporting 2023, "
        f"{TIMEZONE}), seed {args.seed}, noise {args.noise:.1%}, built in {built:.1f} s"
    )
    print(f"  true models     {', '.join(f'{k} {v}' for k, v in kinds.items())}")
    print(
        f"  savings         {min(a.savings_fraction for a in assets):.1%}-"
        f"{max(a.savings_fraction for a in assets):.1%} of consumption; "
        f"true savings total {sum(truths) / 1e9:,.1f} GWh"
    )
    print(
        "  truth           sum over the reporting year of (noise-free counterfactual - "
        "metered);\n                  estimate = sum(predicted) - sum(metered), so error = "
        "sum(predicted) - sum(noise-free counterfactual)"
    )
    print()

    ours = run_ours(assets)
    ours_ms = ours.seconds / len(assets) * 1000
    print("ours: app.pure.calc.baseline fit_daily_baseline + predict_daily_wh")
    print(
        f"  time            {ours.seconds:.3f} s total, {ours_ms:.3f} ms per asset "
        f"(CPU {ours.cpu_seconds / len(assets) * 1000:.3f} ms)"
    )
    fitted_kinds: dict[str, int] = {}
    for fit in ours.fits:
        fitted_kinds[fit.model_type] = fitted_kinds.get(fit.model_type, 0) + 1
    print(f"  models picked   {', '.join(f'{k} {v}' for k, v in sorted(fitted_kinds.items()))}")
    matched = sum(
        fit.model_type == a.truth.model_type for fit, a in zip(ours.fits, assets, strict=True)
    )
    print(f"  type == truth   {matched} of {len(assets)}")
    print(error_line(f"savings error, all {len(assets)}", errors(ours.savings_wh, truths)))
    print()

    eemeter_results: list[EemeterResult] = []
    sample: list[int] = []
    if not args.no_eemeter and args.eemeter_sample > 0:
        sample_rng = np.random.default_rng([args.seed, 1])
        sample = sorted(int(i) for i in sample_rng.permutation(args.assets)[: args.eemeter_sample])
        sample_assets = [assets[i] for i in sample]
        print(f"eemeter {version_of('eemeter')}: sample of {len(sample)} assets")
        for model in args.eemeter_models:
            try:
                result = run_eemeter(sample_assets, model)
            except Exception as exc:  # report why, still finish our part
                print(f"  DailyModel(model={model!r}) failed: {type(exc).__name__}: {exc}")
                continue
            eemeter_results.append(result)
        print()

    if sample and eemeter_results:
        sample_truths = [truths[i] for i in sample]
        ours_sample = [ours.savings_wh[i] for i in sample]
        print(f"comparison on the same {len(sample)} assets")
        ours_cpu_ms = ours.cpu_seconds / len(assets) * 1000
        print(f"  {'time per asset, ms':<36} {'wall':>9} {'ratio':>7} {'CPU':>9} {'ratio':>7}")
        print(f"  {'ours (fit + predict)':<36} {ours_ms:9.3f} {'':>7} {ours_cpu_ms:9.3f}")
        for r in eemeter_results:
            n = len(sample)
            ms, cpu_ms = r.seconds / n * 1000, r.cpu_seconds / n * 1000
            print(
                f"  {'eemeter ' + r.model + ' (data + fit + predict)':<36} {ms:9.1f} "
                f"{ms / ours_ms:6.0f}x {cpu_ms:9.1f} {cpu_ms / ours_cpu_ms:6.0f}x"
            )
            fit_ms = r.fit_seconds / n * 1000
            print(f"  {'  of which fit':<36} {fit_ms:9.1f} {fit_ms / ours_ms:6.0f}x")
            print(
                f"  {'':<36} data objects {r.data_seconds / n * 1000:.1f} ms, predict "
                f"{r.predict_seconds / n * 1000:.1f} ms; warm-up (untimed) "
                f"{r.warmup_seconds:.1f} s; disqualified {r.disqualified}, NaN days {r.nan_days}"
            )
        print("  savings error vs truth")
        ours_err = errors(ours_sample, sample_truths)
        print(error_line("ours", ours_err))
        for r in eemeter_results:
            print(error_line(f"eemeter {r.model}", errors(r.savings_wh, sample_truths)))
        print("  paired, per asset: |ours error| - |eemeter error| (negative: ours closer)")
        ours_ape = np.abs(np.subtract(ours_sample, sample_truths)) / np.abs(sample_truths)
        for r in eemeter_results:
            their_ape = np.abs(np.subtract(r.savings_wh, sample_truths)) / np.abs(sample_truths)
            diff = ours_ape - their_ape
            se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
            print(
                f"  vs eemeter {r.model:<8} mean {diff.mean():+.3%} (standard error {se:.3%}); "
                f"ours closer on {int((diff < 0).sum())} of {len(diff)} assets"
            )
        print("  targets (ours >= 10x faster per asset; ours MAPE <= eemeter MAPE)")
        for r in eemeter_results:
            ratio = r.seconds / len(sample) / (ours.seconds / len(assets))
            e_err = errors(r.savings_wh, sample_truths)
            print(
                f"  vs {r.model:<8} speed (wall) {ratio:.0f}x: "
                f"{'met' if ratio >= 10 else 'NOT met'}; "
                f"accuracy {ours_err.mape:.3%} vs {e_err.mape:.3%}: "
                f"{'met' if ours_err.mape <= e_err.mape else 'NOT met'}"
            )
        print()

    ape = [abs(ours.savings_wh[i] - truths[i]) / abs(truths[i]) for i in range(len(assets))]
    worst = sorted(range(len(assets)), key=lambda i: -ape[i])[:WORST_SHOWN]
    by_asset = {
        r.model: dict(zip(sample, zip(r.savings_wh, r.descriptions, strict=True), strict=True))
        for r in eemeter_results
    }
    print(f"ours, the {len(worst)} assets with the largest savings error")
    for i in worst:
        a = assets[i]
        print(
            f"  asset {i:4d}  error {ape[i]:6.2%}  savings true {truths[i] / 1e6:8.1f} MWh "
            f"({a.savings_fraction:.1%}), ours {ours.savings_wh[i] / 1e6:8.1f} MWh"
        )
        print(f"    truth   {describe_truth(a)}")
        print(f"    ours    {describe_fit(ours.fits[i])}")
        for model, rows in by_asset.items():
            if i in rows:
                est, text = rows[i]
                err = abs(est - truths[i]) / abs(truths[i])
                print(f"    eemeter {model} error {err:.2%}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
