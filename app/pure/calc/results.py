"""Day and month impact results of an asset, and their attribution to bonds. Pure.

Missing data is never counted as zero. A consumption day with gaps compares the metered energy
with the benchmark pro-rated to the intervals that reported (flag ``gaps``); a closed day with
less than ``MIN_CLAIM_COVERAGE`` of its intervals claims no reduction at all (flag
``insufficient_coverage``). A renewable facility's reduction is what it metered: gaps can only
under-state it. Docs: docs/methodology.md.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from app.pure.calc.baseline import BaselineFit
from app.pure.calc.billing import BillingFit
from app.pure.calc.days import DayTotal
from app.pure.calc.factors import EmissionFactor, co2_grams
from app.pure.calc.methods import BaselineMethod, GenerationMethod, Method, full_day_benchmark_wh
from app.pure.calc.uncertainty import (
    CONFIDENCE_68,
    CONFIDENCE_90,
    UncertaintyBasis,
    basis_of_billing_fit,
    basis_of_daily_fit,
    savings_uncertainty_wh,
)

MIN_CLAIM_COVERAGE = Decimal("0.9")
# Six places, rounded down: a month of 1-minute intervals has 44,640 of them, and one missing
# must show as less than 1 (never rounded up to a complete 1.000000).
COVERAGE_PLACES = Decimal("0.000001")


# What a period result states about its period, in the order leaves and rows list them: a stored
# final result gets a new revision when one of these changes, and a verifier recomputing a
# logged result compares these.
FIGURES = (
    "metered_wh",
    "benchmark_wh",
    "reduction_wh",
    "co2_avoided_g",
    "intervals_present",
    "intervals_expected",
    "flags",
    "method",
    "method_version",
    "factor_ids",
    "savings_uncertainty_68_wh",
    "savings_uncertainty_90_wh",
)
# Figures a result leaf carries only when they are not null: leaves logged before they existed
# are rebuilt from their rows to the same bytes (docs/anchoring.md).
OPTIONAL_FIGURES = ("savings_uncertainty_68_wh", "savings_uncertainty_90_wh")


@dataclass(frozen=True)
class PeriodResult:
    period: str  # "day" | "month"
    period_start: date
    metered_wh: int
    benchmark_wh: int | None
    reduction_wh: int | None
    co2_avoided_g: int | None
    intervals_present: int
    intervals_expected: int
    flags: tuple[str, ...]
    method: str
    method_version: str
    factor_ids: tuple[int, ...]
    final: bool
    # ASHRAE Guideline 14 savings uncertainty (+-, Wh) at 68 % and 90 % confidence: baseline
    # results that claim a reduction (docs/methodology.md, "Savings uncertainty")
    savings_uncertainty_68_wh: int | None = None
    savings_uncertainty_90_wh: int | None = None

    @property
    def coverage(self) -> Decimal:
        return coverage(self.intervals_present, self.intervals_expected)


def coverage(intervals_present: int, intervals_expected: int) -> Decimal:
    """Share of the period's intervals that reported, rounded down (never overstated)."""
    if intervals_expected == 0:
        return Decimal(0)
    ratio = Decimal(intervals_present) / Decimal(intervals_expected)
    return ratio.quantize(COVERAGE_PLACES, ROUND_DOWN)


def uncertainty_basis(fit: BaselineFit | BillingFit | None) -> UncertaintyBasis | None:
    """What the uncertainty formula needs from a daily or billing fit; None for a daily fit
    stored before its residual autocorrelation was computed (or no fit)."""
    if isinstance(fit, BillingFit):
        return basis_of_billing_fit(fit)
    if fit is None or fit.residual_autocorrelation is None:
        return None
    return basis_of_daily_fit(fit)


def period_uncertainty_wh(
    basis: UncertaintyBasis | None, days: int, counterfactual_wh: int
) -> tuple[int, int] | None:
    """(+- at 68 %, +- at 90 %) of ``days`` reporting days evaluated together; None when there
    is no basis or it leaves no degrees of freedom (too few effective baseline days)."""
    if basis is None or days < 1:
        return None
    try:
        return (
            savings_uncertainty_wh(basis, CONFIDENCE_68, days, counterfactual_wh),
            savings_uncertainty_wh(basis, CONFIDENCE_90, days, counterfactual_wh),
        )
    except ValueError:
        return None


def day_result(
    energy: DayTotal,
    mean_temperature_c: float | None,
    method: Method,
    factor: EmissionFactor | None,
    ended: bool,
    final: bool,
) -> PeriodResult:
    """``ended``: the day is over (otherwise it is the day so far, flagged ``incomplete``);
    ``final``: its grace time for late data has passed too, so the result will not be replaced."""
    flags: set[str] = set()
    if energy.corrected:
        flags.add("corrected_data")
    if energy.attested:
        flags.add("issuer_attested")  # data imported by the issuer, not signed by the meter
    if isinstance(method, BaselineMethod) and method.bills:
        flags.add("baseline_issuer_attested")  # bills are imported by the issuer
    if not ended:
        flags.add("incomplete")
    elif energy.present < energy.expected:
        flags.add("gaps")
    fit = method.fit if isinstance(method, BaselineMethod) else None
    if fit is not None and not fit.within_guideline_14:
        flags.add("fit_outside_limits")

    benchmark_wh: int | None
    reduction_wh: int | None
    if isinstance(method, GenerationMethod):
        benchmark_wh, reduction_wh = None, energy.value_sum
    else:
        full_wh, missing_flag = full_day_benchmark_wh(method, energy.day, mean_temperature_c)
        coverage = (
            Decimal(energy.present) / Decimal(energy.expected) if energy.expected else Decimal(0)
        )
        if missing_flag is not None:
            flags.add(missing_flag)
            benchmark_wh = reduction_wh = None
        elif ended and coverage < MIN_CLAIM_COVERAGE:
            flags.add("insufficient_coverage")
            benchmark_wh = reduction_wh = None
        else:
            assert full_wh is not None
            benchmark_wh = int((Decimal(full_wh) * coverage).to_integral_value(ROUND_HALF_EVEN))
            reduction_wh = benchmark_wh - energy.value_sum

    co2_g: int | None = None
    if reduction_wh is not None:
        if factor is None:
            flags.add("no_emission_factor")
        else:
            co2_g = co2_grams(reduction_wh, factor)
    uncertainty = None
    if fit is not None and benchmark_wh is not None:
        uncertainty = period_uncertainty_wh(uncertainty_basis(fit), 1, benchmark_wh)
        if uncertainty is None:
            flags.add("uncertainty_unavailable")
    return PeriodResult(
        period="day",
        period_start=energy.day,
        metered_wh=energy.value_sum,
        benchmark_wh=benchmark_wh,
        reduction_wh=reduction_wh,
        co2_avoided_g=co2_g,
        intervals_present=energy.present,
        intervals_expected=energy.expected,
        flags=tuple(sorted(flags)),
        method=method.name,
        method_version=method.version,
        factor_ids=(factor.id,) if factor is not None and co2_g is not None else (),
        final=final,
        savings_uncertainty_68_wh=None if uncertainty is None else uncertainty[0],
        savings_uncertainty_90_wh=None if uncertainty is None else uncertainty[1],
    )


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _sum(values: Sequence[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def month_result(
    days: Sequence[PeriodResult],
    ended: bool,
    final: bool,
    basis: UncertaintyBasis | None = None,
) -> PeriodResult:
    """Sum of a calendar month's day results (the days so far, in order, none missing).
    Reduction and CO2 sum the days that claim one; ``partial_claims`` flags that some did not.
    The savings uncertainty is that of the days that state one, evaluated together with
    ``basis`` (the fit of the month's latest day), never the sum of theirs."""
    if not days:
        raise ValueError("a month needs its days")
    flags = {f for d in days for f in d.flags if f != "incomplete"}
    if not ended:
        flags.add("incomplete")
    if any(d.reduction_wh is None for d in days):
        flags.add("partial_claims")
    uncertainty = days_uncertainty_wh(days, basis)
    return PeriodResult(
        period="month",
        period_start=days[0].period_start.replace(day=1),
        metered_wh=sum(d.metered_wh for d in days),
        benchmark_wh=_sum([d.benchmark_wh for d in days]),
        reduction_wh=_sum([d.reduction_wh for d in days]),
        co2_avoided_g=_sum([d.co2_avoided_g for d in days]),
        intervals_present=sum(d.intervals_present for d in days),
        intervals_expected=sum(d.intervals_expected for d in days),
        flags=tuple(sorted(flags)),
        method=days[-1].method,
        method_version=days[-1].method_version,
        factor_ids=tuple(sorted({f for d in days for f in d.factor_ids})),
        final=final,
        savings_uncertainty_68_wh=None if uncertainty is None else uncertainty[0],
        savings_uncertainty_90_wh=None if uncertainty is None else uncertainty[1],
    )


@dataclass(frozen=True)
class UncertaintyDays:
    """The days of a set that state a savings uncertainty: how many, and their counterfactual
    (benchmark) summed: what the set's uncertainty is evaluated on."""

    days: int
    benchmark_wh: int


def uncertainty_days(days: Sequence[PeriodResult]) -> UncertaintyDays:
    stating = [d for d in days if d.savings_uncertainty_68_wh is not None]
    return UncertaintyDays(len(stating), sum(d.benchmark_wh or 0 for d in stating))


def days_uncertainty_wh(
    days: Sequence[PeriodResult], basis: UncertaintyBasis | None
) -> tuple[int, int] | None:
    """(68 %, 90 %) of the days that state an uncertainty, evaluated together (None if none)."""
    counted = uncertainty_days(days)
    return period_uncertainty_wh(basis, counted.days, counted.benchmark_wh)


def attribute(value: int | None, financing_share: Decimal) -> int | None:
    """The bond's share of an asset figure (ICMA pro-rata), rounded toward zero so that the
    shares of one asset can never add up to more than the asset's own figure."""
    if value is None:
        return None
    return int((Decimal(value) * financing_share).to_integral_value(ROUND_DOWN))


def share_of(financing_share: Decimal) -> Callable[[int | None], int | None]:
    """``attribute`` for one share, in integer arithmetic (for summing a year of days of many
    assets): the share is an exact fraction n/d, and |value| x n // d with the value's sign is
    the exact product rounded toward zero, as ``attribute`` gives."""
    numerator, denominator = financing_share.as_integer_ratio()

    def attributed(value: int | None) -> int | None:
        if value is None:
            return None
        part = abs(value) * numerator // denominator
        return part if value >= 0 else -part

    return attributed


@dataclass(frozen=True)
class AttributedTotals:
    """Sums of day results: the asset's figures, the bond's attributed share of them (each day
    rounded toward zero first, so these add up exactly to checkpoint totals), and the number of
    days, how many of them still provisional."""

    reduction_wh: int
    co2_avoided_g: int
    attributed_reduction_wh: int
    attributed_co2_avoided_g: int
    days: int
    provisional_days: int


def attributed_totals(days: Sequence[PeriodResult], financing_share: Decimal) -> AttributedTotals:
    """A day without a claim (null reduction or CO2) adds nothing, as in month results."""
    return AttributedTotals(
        reduction_wh=sum(d.reduction_wh or 0 for d in days),
        co2_avoided_g=sum(d.co2_avoided_g or 0 for d in days),
        attributed_reduction_wh=sum(attribute(d.reduction_wh, financing_share) or 0 for d in days),
        attributed_co2_avoided_g=sum(
            attribute(d.co2_avoided_g, financing_share) or 0 for d in days
        ),
        days=len(days),
        provisional_days=sum(not d.final for d in days),
    )


def fit_summary(fit: BaselineFit | BillingFit | None) -> dict[str, object] | None:
    """The fit as disclosed to investors and auditors; a billing fit adds ``n_periods``, its
    bills (``n_days`` is then the days those bills cover)."""
    if fit is None:
        return None
    bills = {"n_periods": fit.n_periods} if isinstance(fit, BillingFit) else {}
    return {
        **bills,
        "model_type": fit.model_type,
        "intercept_wh": round(fit.intercept_wh, 3),
        "heating_balance_point_c": fit.heating_balance_point_c,
        "heating_wh_per_degree_day": _opt_round(fit.heating_wh_per_degree_day),
        "cooling_balance_point_c": fit.cooling_balance_point_c,
        "cooling_wh_per_degree_day": _opt_round(fit.cooling_wh_per_degree_day),
        "n_days": fit.n_days,
        "r_squared": round(fit.r_squared, 6),
        "adj_r_squared": round(fit.adj_r_squared, 6),
        "cvrmse": round(fit.cvrmse, 6),
        "nmbe": round(fit.nmbe, 9),
        "within_ashrae_guideline_14": fit.within_guideline_14,
    }


def _opt_round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
