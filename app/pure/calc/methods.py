"""Benchmark methods: what the asset would have used without the green investment. Pure."""

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol, TypeVar

from app.pure.calc.baseline import METHOD_VERSION as BASELINE_VERSION
from app.pure.calc.baseline import BaselineFit, fit_daily_baseline, predict_daily_wh
from app.pure.calc.billing import METHOD_VERSION as BILLING_VERSION
from app.pure.calc.billing import BillingFit, BillingPeriod, fit_billing_baseline_period
from app.pure.calc.days import DayTotal


@dataclass(frozen=True)
class IntensityMethod:
    """Reference energy intensity for the building type x floor area, pro-rated per day."""

    kwh_per_m2_year: Decimal
    floor_area_m2: Decimal
    name = "intensity"
    version = "intensity/1"


@dataclass(frozen=True)
class BaselineMethod:
    """CalTRACK baseline fitted on the pre-retrofit year: on its metered days (the daily model)
    or, ``bills`` true, on its bills (the billing model); ``fit`` is None when the baseline data
    was insufficient. Either fit predicts per day."""

    fit: BaselineFit | BillingFit | None
    bills: bool = False
    name = "baseline"

    @property
    def version(self) -> str:
        return BILLING_VERSION if self.bills else BASELINE_VERSION


@dataclass(frozen=True)
class SeriesMethod:
    """Issuer-supplied benchmark energy per day, or per month spread evenly over its days."""

    daily_wh: Mapping[date, int] = field(default_factory=dict)
    monthly_wh: Mapping[tuple[int, int], int] = field(default_factory=dict)
    name = "series"
    version = "series/1"


@dataclass(frozen=True)
class GenerationMethod:
    """Renewable facility: the reduction is the metered generation (grid electricity
    displaced)."""

    name = "generation"
    version = "generation/1"


Method = IntensityMethod | BaselineMethod | SeriesMethod | GenerationMethod


class Configuration(Protocol):
    @property
    def effective_from(self) -> date: ...


C = TypeVar("C", bound=Configuration)


def in_effect(configs: Iterable[C], day: date) -> C | None:
    """The benchmark configuration in effect on ``day``: of those effective on or before it,
    the latest (None before the first)."""
    return max(
        (c for c in configs if c.effective_from <= day),
        key=lambda c: c.effective_from,
        default=None,
    )


def method_from_params(
    method: str,
    params: Mapping[str, Any],
    floor_area_m2: Decimal | None,
    baseline_fit: BaselineFit | BillingFit | None,
) -> Method:
    """The method a benchmark configuration means: its method name and parameters (as the
    admin API took them, ``kwh_per_m2_year`` filled in for an intensity), the asset's floor
    area, and for a baseline the fit of its baseline period (None: insufficient data)."""
    if method == "intensity":
        if floor_area_m2 is None:
            raise ValueError("an intensity benchmark needs the asset's floor area")
        return IntensityMethod(Decimal(params["kwh_per_m2_year"]), floor_area_m2)
    if method == "series":
        values = {date.fromisoformat(v["period_start"]): v["energy_wh"] for v in params["values"]}
        if params["granularity"] == "day":
            return SeriesMethod(daily_wh=values)
        return SeriesMethod(monthly_wh={(d.year, d.month): v for d, v in values.items()})
    if method == "generation":
        return GenerationMethod()
    if method == "baseline":
        bills = uses_bills(params)
        if baseline_fit is not None and isinstance(baseline_fit, BillingFit) != bills:
            raise ValueError(f"a {baseline_data(params)} baseline cannot use {baseline_fit!r}")
        return BaselineMethod(baseline_fit, bills)
    raise ValueError(f"unknown method {method!r}")


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_EVEN))


def full_day_benchmark_wh(
    method: Method, day: date, mean_temperature_c: float | None
) -> tuple[int | None, str | None]:
    """The benchmark energy for the whole day, or (None, flag saying why there is none)."""
    if isinstance(method, IntensityMethod):
        days_in_year = 366 if calendar.isleap(day.year) else 365
        wh = method.kwh_per_m2_year * 1000 * method.floor_area_m2 / days_in_year
        return _round(wh), None
    if isinstance(method, BaselineMethod):
        if method.fit is None:
            return None, "baseline_insufficient"
        if mean_temperature_c is None:
            return None, "no_temperature"
        [predicted] = predict_daily_wh(method.fit, [mean_temperature_c])
        return _round(Decimal(repr(predicted))), None
    if isinstance(method, SeriesMethod):
        if day in method.daily_wh:
            return method.daily_wh[day], None
        month_total = method.monthly_wh.get((day.year, day.month))
        if month_total is None:
            return None, "no_benchmark"
        days_in_month = calendar.monthrange(day.year, day.month)[1]
        return _round(Decimal(month_total) / days_in_month), None
    return 0, None


# An asset's energy meters are its meters of this quantity (consumption for a building, whose
# benchmark is what it would have used; generation for a renewable facility).
ENERGY_QUANTITY = {"building": "consumption", "renewable_facility": "generation"}

BASELINE_DAYS = 365
BASELINE_MAX_MISSING = Decimal("0.10")  # CalTRACK: at most 10 % of the baseline days missing


def baseline_data(params: Mapping[str, Any]) -> str:
    """What a baseline configuration fits on: ``days`` (metered days, the default: the key is
    absent) or ``bills`` (the energy meters' imported billing periods)."""
    data: str = params.get("baseline_data", "days")
    return data


def uses_bills(params: Mapping[str, Any]) -> bool:
    return baseline_data(params) == "bills"


def baseline_window(params: Mapping[str, Any]) -> tuple[date, date]:
    """First and last day of a baseline configuration's baseline period."""
    first = date.fromisoformat(params["baseline_start"])
    return first, first + timedelta(days=BASELINE_DAYS - 1)


def fit_baseline_period(
    energy_days: Sequence[DayTotal], temperatures_c: Mapping[date, float | None]
) -> tuple[BaselineFit | None, str]:
    """Fit on the baseline period's days. A day is usable when all its intervals reported and
    it has a mean temperature. Returns (fit or None, a sentence saying what was used)."""
    if len(energy_days) != BASELINE_DAYS:
        return None, f"baseline period is {len(energy_days)} days; {BASELINE_DAYS} required"
    usable = [
        (temperatures_c[d.day], d.value_sum)
        for d in energy_days
        if d.complete and temperatures_c.get(d.day) is not None
    ]
    missing = BASELINE_DAYS - len(usable)
    allowed = int(BASELINE_DAYS * BASELINE_MAX_MISSING)
    if missing > allowed:
        return None, f"{missing} of {BASELINE_DAYS} baseline days unusable (at most {allowed})"
    temps = [t for t, _ in usable if t is not None]
    fit = fit_daily_baseline(temps, [float(e) for _, e in usable])
    return fit, f"fitted on {len(usable)} of {BASELINE_DAYS} days"


@dataclass(frozen=True)
class MeterBills:
    """The bills one import stored for one of the asset's energy meters."""

    import_id: int
    meter_id: int
    bills: tuple[BillingPeriod, ...]


def asset_bills(imports: Iterable[MeterBills]) -> list[BillingPeriod]:
    """The asset's bills from its energy meters' imports. Per meter, the latest import (highest
    id) wins: its bills replace every earlier bill of that meter they overlap, as a corrected
    bill replaces the original. Across meters, the bills of one period (same start and end) are
    summed, and a period that is not billed on every meter that has bills is left out (its days
    count as not covered): the asset's consumption is the sum of its meters'."""
    by_meter: dict[int, list[BillingPeriod]] = {}
    for imported in sorted(imports, key=lambda i: i.import_id):
        kept = by_meter.setdefault(imported.meter_id, [])
        kept[:] = [
            old
            for old in kept
            if not any(new.start < old.end and old.start < new.end for new in imported.bills)
        ]
        kept += imported.bills
    billed = [bills for bills in by_meter.values() if bills]
    periods: dict[tuple[date, date], list[BillingPeriod]] = {}
    for bills in billed:
        for bill in bills:
            periods.setdefault((bill.start, bill.end), []).append(bill)
    return [
        BillingPeriod(start, end, sum(b.energy_wh for b in bills))
        for (start, end), bills in sorted(periods.items())
        if len(bills) == len(billed)
    ]


def fit_billing_period(
    imports: Iterable[MeterBills],
    temperatures_c: Mapping[date, float | None],
    params: Mapping[str, Any],
) -> tuple[BillingFit | None, str]:
    """The billing model fitted on the bills wholly inside the configuration's baseline window
    (app.pure.calc.billing.fit_billing_baseline_period): (fit or None, what was used)."""
    first, _ = baseline_window(params)
    return fit_billing_baseline_period(asset_bills(imports), temperatures_c, first)
