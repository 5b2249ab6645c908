"""Day and month results, benchmark methods, coverage, flags and attribution to bonds."""

import calendar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.pure.calc.baseline import fit_daily_baseline
from app.pure.calc.days import DayTotal, IntervalPoint, aggregate_days, mean_temperature_c
from app.pure.calc.factors import LOCATION_GRID_AVERAGE, EmissionFactor, co2_grams
from app.pure.calc.methods import (
    BaselineMethod,
    GenerationMethod,
    IntensityMethod,
    SeriesMethod,
    full_day_benchmark_wh,
)
from app.pure.calc.results import (
    MIN_CLAIM_COVERAGE,
    PeriodResult,
    attribute,
    day_result,
    fit_summary,
    month_result,
)

HALF_HOUR = 1800
DAY_S = 86400
INTERVALS_PER_DAY = [DAY_S // d for d in range(60, DAY_S + 1) if DAY_S % d == 0]
FACTOR = EmissionFactor(
    id=7,
    region="JP",
    kind=LOCATION_GRID_AVERAGE,
    valid_from=date(2024, 4, 1),
    valid_to=date(2025, 4, 1),
    kg_co2_per_kwh=Decimal("0.421000"),
    published_on=date(2025, 6, 1),
)
OFFICE = IntensityMethod(kwh_per_m2_year=Decimal(185), floor_area_m2=Decimal("4200.5"))


def hround(x: Fraction) -> int:
    """Round half to even, exactly (Fraction.__round__)."""
    return round(x)


def claim_threshold(expected: int) -> int:
    """The fewest intervals present for which an ended day still claims a reduction."""
    return -(-int(MIN_CLAIM_COVERAGE * 10_000) * expected // 10_000)


# --- benchmark methods ------------------------------------------------------------------------


@given(
    kwh=st.decimals(min_value=1, max_value=2000, places=2),
    area=st.decimals(min_value=1, max_value=500_000, places=2),
    year=st.integers(min_value=2000, max_value=2100),
)
def test_intensity_benchmark_per_day(kwh: Decimal, area: Decimal, year: int) -> None:
    """Intensity: kwh_per_m2_year * 1000 * area / 365 (366 in a leap year), rounded half-even."""
    days_in_year = 366 if calendar.isleap(year) else 365
    method = IntensityMethod(kwh_per_m2_year=kwh, floor_area_m2=area)
    for day in (date(year, 1, 1), date(year, 6, 30), date(year, 12, 31)):
        wh, flag = full_day_benchmark_wh(method, day, None)
        assert flag is None
        assert wh == hround(Fraction(kwh) * 1000 * Fraction(area) / days_in_year)


def test_intensity_leap_year_spreads_over_366_days() -> None:
    """A year's intensity benchmark adds up to the annual figure in both kinds of years."""
    method = IntensityMethod(kwh_per_m2_year=Decimal(366 * 365), floor_area_m2=Decimal(1))
    annual_wh = int(method.kwh_per_m2_year * 1000 * method.floor_area_m2)
    for year in (2023, 2024):
        days = [date(year, 1, 1) + timedelta(days=i) for i in range(366 if year == 2024 else 365)]
        total = sum(full_day_benchmark_wh(method, d, None)[0] or 0 for d in days)
        assert total == annual_wh  # chosen divisible by both 365 and 366: no rounding


@given(
    month_wh=st.integers(min_value=0, max_value=10**12),
    year=st.integers(min_value=2000, max_value=2100),
    month=st.integers(min_value=1, max_value=12),
)
def test_series_monthly_value_spread_evenly(month_wh: int, year: int, month: int) -> None:
    """Series: a monthly value is spread evenly over the month's days (rounded half-even)."""
    days_in_month = calendar.monthrange(year, month)[1]
    method = SeriesMethod(monthly_wh={(year, month): month_wh})
    values = []
    for d in range(1, days_in_month + 1):
        wh, flag = full_day_benchmark_wh(method, date(year, month, d), None)
        assert flag is None
        values.append(wh)
    assert set(values) == {hround(Fraction(month_wh, days_in_month))}
    assert abs(sum(v or 0 for v in values) - month_wh) <= days_in_month / 2


def test_series_daily_value_used_as_is_and_wins_over_monthly() -> None:
    """Series: a daily value is used unchanged and takes precedence over the month's value."""
    day = date(2024, 2, 10)
    month_total = calendar.monthrange(2024, 2)[1] * 1000
    method = SeriesMethod(daily_wh={day: 123_457}, monthly_wh={(2024, 2): month_total})
    assert full_day_benchmark_wh(method, day, None) == (123_457, None)
    spread = month_total // calendar.monthrange(2024, 2)[1]
    assert full_day_benchmark_wh(method, date(2024, 2, 11), None) == (spread, None)
    assert full_day_benchmark_wh(method, date(2024, 3, 1), None) == (None, "no_benchmark")


def test_days_without_a_benchmark_claim_nothing() -> None:
    """No series value, no baseline fit or no temperature: no reduction and a flag saying why."""
    energy = DayTotal(date(2024, 5, 1), 48_000, 48, 48, False)
    temps = [5.0 + 0.1 * i for i in range(60)]
    fit = fit_daily_baseline(temps, [1000 + 30 * max(15 - t, 0) for t in temps])
    cases = [
        (SeriesMethod(), None, "no_benchmark"),
        (BaselineMethod(fit=None), 12.0, "baseline_insufficient"),
        (BaselineMethod(fit=fit), None, "no_temperature"),
    ]
    for method, temperature, flag in cases:
        result = day_result(energy, temperature, method, FACTOR, ended=True, final=True)
        assert flag in result.flags
        assert result.benchmark_wh is None and result.reduction_wh is None
        assert result.co2_avoided_g is None
        assert "no_emission_factor" not in result.flags
        assert result.metered_wh == energy.value_sum


# --- day results: missing data is never counted as zero --------------------------------------


def test_complete_day_reduction_and_co2() -> None:
    """A complete day: reduction = benchmark - metered, CO2 = reduction x factor, no flags."""
    day = date(2024, 7, 1)
    full, _ = full_day_benchmark_wh(OFFICE, day, None)
    assert full is not None
    energy = DayTotal(day, full * 3 // 4, 48, 48, False)
    result = day_result(energy, None, OFFICE, FACTOR, ended=True, final=False)
    assert result.benchmark_wh == full
    assert result.reduction_wh == full - energy.value_sum
    assert result.co2_avoided_g == co2_grams(full - energy.value_sum, FACTOR)
    assert result.flags == ()
    assert result.coverage == 1
    assert (result.method, result.method_version) == (OFFICE.name, OFFICE.version)
    assert result.factor_ids == (FACTOR.id,)
    assert not result.final


def test_day_with_gaps_prorates_the_benchmark() -> None:
    """An ended day with gaps is flagged 'gaps' and uses benchmark x present / expected."""
    day = date(2024, 7, 1)
    full, _ = full_day_benchmark_wh(OFFICE, day, None)
    assert full is not None
    expected = 48
    present = claim_threshold(expected)
    energy = DayTotal(day, 1000 * present, present, expected, False)
    result = day_result(energy, None, OFFICE, FACTOR, ended=True, final=True)
    assert "gaps" in result.flags
    assert result.benchmark_wh == hround(Fraction(full) * present / expected)
    assert result.reduction_wh == result.benchmark_wh - energy.value_sum
    one_missing = DayTotal(day, 1000 * (expected - 1), expected - 1, expected, False)
    assert "gaps" in day_result(one_missing, None, OFFICE, FACTOR, ended=True, final=True).flags


def test_closed_day_below_min_coverage_claims_nothing() -> None:
    """An ended day under MIN_CLAIM_COVERAGE: reduction None, flag insufficient_coverage."""
    for expected in (24, 46, 48, 50, 96, 288, 1440):
        present = claim_threshold(expected)
        assert Fraction(present, expected) >= Fraction(str(MIN_CLAIM_COVERAGE))
        assert Fraction(present - 1, expected) < Fraction(str(MIN_CLAIM_COVERAGE))
        day = date(2024, 7, 1)
        at = day_result(
            DayTotal(day, 5 * present, present, expected, False), None, OFFICE, FACTOR, True, True
        )
        assert at.reduction_wh is not None
        assert "insufficient_coverage" not in at.flags
        below = DayTotal(day, 5 * (present - 1), present - 1, expected, False)
        result = day_result(below, None, OFFICE, FACTOR, ended=True, final=True)
        assert result.reduction_wh is None and result.benchmark_wh is None
        assert result.co2_avoided_g is None and result.factor_ids == ()
        assert {"gaps", "insufficient_coverage"} <= set(result.flags)
        assert "no_emission_factor" not in result.flags
        assert result.metered_wh == below.value_sum


def test_day_so_far_is_incomplete_and_prorated() -> None:
    """ended=False: flagged 'incomplete' (not 'gaps'), pro-rated even below MIN_CLAIM_COVERAGE."""
    day = date(2024, 7, 1)
    full, _ = full_day_benchmark_wh(OFFICE, day, None)
    assert full is not None
    for present in (1, 10, 24, 47):
        energy = DayTotal(day, 900 * present, present, 48, False)
        result = day_result(energy, None, OFFICE, FACTOR, ended=False, final=False)
        assert "incomplete" in result.flags and "gaps" not in result.flags
        assert "insufficient_coverage" not in result.flags
        assert result.benchmark_wh == hround(Fraction(full) * present / 48)
        assert result.reduction_wh == result.benchmark_wh - energy.value_sum


def test_generation_reduction_is_metered_generation() -> None:
    """GenerationMethod: reduction = metered generation, also with gaps or low coverage."""
    day = date(2024, 7, 1)
    for present, ended in ((48, True), (40, True), (3, True), (20, False)):
        energy = DayTotal(day, 1234 * present, present, 48, False)
        result = day_result(energy, None, GenerationMethod(), FACTOR, ended=ended, final=False)
        assert result.reduction_wh == energy.value_sum
        assert result.benchmark_wh is None
        assert result.co2_avoided_g == co2_grams(energy.value_sum, FACTOR)
        assert "insufficient_coverage" not in result.flags
        assert ("gaps" in result.flags) == (ended and present < 48)


@settings(max_examples=300)
@given(
    expected=st.sampled_from([24, 46, 48, 50, 96, 288, 1440]),
    per_interval=st.integers(min_value=0, max_value=10**6),
    benchmark_rate=st.fractions(min_value=0, max_value=2 * 10**6),
    data=st.data(),
)
def test_removing_intervals_never_increases_claimed_reduction(
    expected: int, per_interval: int, benchmark_rate: Fraction, data: st.DataObject
) -> None:
    """Even consumption: fewer intervals never enlarge |reduction| nor, with savings, reduction."""
    full = hround(benchmark_rate * expected)
    method = SeriesMethod(daily_wh={date(2024, 7, 1): full})
    low = claim_threshold(expected)
    present = data.draw(st.integers(min_value=low, max_value=expected))
    fewer = data.draw(st.integers(min_value=low, max_value=present))

    def reduction(p: int, ended: bool = True) -> int:
        energy = DayTotal(date(2024, 7, 1), per_interval * p, p, expected, False)
        r = day_result(energy, None, method, FACTOR, ended=ended, final=False).reduction_wh
        assert r is not None
        return r

    for ended in (True, False):
        assert abs(reduction(fewer, ended)) <= abs(reduction(present, ended))
        if full >= per_interval * expected:  # the building saves energy
            assert reduction(fewer, ended) <= reduction(present, ended)


def test_gaps_do_not_look_like_savings() -> None:
    """Dropping 10% of a building's intervals does not create a reduction it did not make."""
    day = date(2024, 7, 1)
    method = SeriesMethod(daily_wh={day: 48 * 2000})
    complete = DayTotal(day, 48 * 2000, 48, 48, False)
    gappy = DayTotal(day, claim_threshold(48) * 2000, claim_threshold(48), 48, False)
    for energy in (complete, gappy):
        assert day_result(energy, None, method, FACTOR, ended=True, final=True).reduction_wh == 0


def test_day_result_with_zero_expected_intervals() -> None:
    """A day that expects no interval (Azores DST day, daily meter) yields a result, no claim."""
    [energy] = aggregate_days([], DAY_S, "Atlantic/Azores", date(2024, 3, 31), date(2024, 3, 31))
    assert energy.expected == 0
    result = day_result(energy, None, OFFICE, FACTOR, ended=True, final=True)
    assert result.reduction_wh is None
    assert result.coverage == 0


def test_corrected_and_fit_outside_limits_flags() -> None:
    """corrected_data comes from the day's totals; fit_outside_limits from a poor baseline fit."""
    rng = np.random.default_rng(3)
    temps = rng.uniform(0, 30, 365)
    energy_wh = (100_000 + 4000 * np.maximum(15 - temps, 0)) * (1 + rng.normal(0, 0.4, 365))
    noisy = fit_daily_baseline(temps.tolist(), energy_wh.tolist())
    assert not noisy.within_guideline_14
    total = DayTotal(date(2024, 7, 1), 90_000, 48, 48, True)
    result = day_result(total, 10.0, BaselineMethod(fit=noisy), FACTOR, ended=True, final=True)
    assert {"corrected_data", "fit_outside_limits"} <= set(result.flags)
    assert result.reduction_wh is not None


# --- coverage ---------------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    expected=st.sampled_from([*INTERVALS_PER_DAY, 23, 25, 46, 50, 92, 100, 1380, 1500]),
    data=st.data(),
)
def test_day_coverage_in_unit_interval_and_strictly_falls(
    expected: int, data: st.DataObject
) -> None:
    """Day coverage is within [0, 1] and falls strictly when intervals are removed."""
    present = data.draw(st.integers(min_value=1, max_value=expected))
    fewer = data.draw(st.integers(min_value=0, max_value=present - 1))
    hi, lo = (
        day_result(
            DayTotal(date(2024, 7, 1), 10 * p, p, expected, False),
            None,
            OFFICE,
            FACTOR,
            True,
            False,
        )
        for p in (present, fewer)
    )
    assert 0 <= lo.coverage < hi.coverage <= 1
    assert (hi.coverage == 1) == (present == expected)


def _month_days(interval_s: int, present_per_day: list[int]) -> list[PeriodResult]:
    expected = DAY_S // interval_s
    return [
        day_result(
            DayTotal(date(2024, 7, i + 1), 10 * p, p, expected, False),
            None,
            OFFICE,
            FACTOR,
            True,
            False,
        )
        for i, p in enumerate(present_per_day)
    ]


@pytest.mark.parametrize("interval_s", [300, 900, HALF_HOUR, 3600])
def test_month_coverage_strictly_falls_for_one_missing_interval(interval_s: int) -> None:
    """A 31-day month missing one interval shows a lower coverage than the complete month."""
    per_day = DAY_S // interval_s
    full = month_result(_month_days(interval_s, [per_day] * 31), ended=True, final=False)
    one_less = month_result(_month_days(interval_s, [per_day - 1] + [per_day] * 30), True, False)
    assert full.coverage == 1
    assert 0 <= one_less.coverage < full.coverage


@pytest.mark.parametrize("interval_s", [60, 120])
def test_month_coverage_strictly_falls_with_minute_intervals(interval_s: int) -> None:
    """With 1- or 2-minute meters a month missing one interval must not show full coverage."""
    per_day = DAY_S // interval_s
    full = month_result(_month_days(interval_s, [per_day] * 31), ended=True, final=False)
    one_less = month_result(_month_days(interval_s, [per_day - 1] + [per_day] * 30), True, False)
    assert one_less.coverage < full.coverage


# --- months and corrections -------------------------------------------------------------------

TZ = "Asia/Tokyo"
FIRST, LAST = date(2024, 7, 29), date(2024, 8, 3)  # spans a month boundary


def _points() -> list[IntervalPoint]:
    start = int(datetime(2024, 7, 29, tzinfo=ZoneInfo(TZ)).timestamp())
    end = int(datetime(2024, 8, 4, tzinfo=ZoneInfo(TZ)).timestamp())
    return [
        IntervalPoint(s, 1500 + (s // HALF_HOUR) % 13 * 100, 0)
        for s in range(start, end, HALF_HOUR)
        if (s // HALF_HOUR) % 53 != 0  # a few gaps
    ]


POINTS = _points()


def _results(points: list[IntervalPoint]) -> tuple[list[PeriodResult], dict[date, PeriodResult]]:
    totals = aggregate_days(points, HALF_HOUR, TZ, FIRST, LAST)
    days = [day_result(t, None, OFFICE, FACTOR, ended=True, final=False) for t in totals]
    months: dict[date, PeriodResult] = {}
    for month in sorted({d.period_start.replace(day=1) for d in days}):
        of_month = [d for d in days if d.period_start.replace(day=1) == month]
        months[month] = month_result(of_month, ended=True, final=False)
    return days, months


@settings(max_examples=60, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(POINTS) - 1), delta=st.integers(1, 5000))
def test_correction_changes_only_its_day_and_month(index: int, delta: int) -> None:
    """Correcting one interval changes that day's and that month's results and nothing else."""
    days, months = _results(POINTS)
    corrected = list(POINTS)
    old = corrected[index]
    corrected[index] = IntervalPoint(old.start_s, old.value + delta, old.revision + 1)
    new_days, new_months = _results(corrected)
    touched = datetime.fromtimestamp(old.start_s, UTC).astimezone(ZoneInfo(TZ)).date()
    for before, after in zip(days, new_days, strict=True):
        if before.period_start == touched:
            assert before.reduction_wh is not None  # the touched day claims a reduction
            assert after.metered_wh == before.metered_wh + delta
            assert after.reduction_wh == (before.reduction_wh or 0) - delta
            assert "corrected_data" in after.flags and "corrected_data" not in before.flags
        else:
            assert after == before
    for month, before in months.items():
        after = new_months[month]
        if month == touched.replace(day=1):
            assert after.metered_wh == before.metered_wh + delta
            assert after.reduction_wh == (before.reduction_wh or 0) - delta
            assert "corrected_data" in after.flags
        else:
            assert after == before


def test_month_sums_its_days_and_flags_partial_claims() -> None:
    """A month sums its days; days without a claim are skipped and flagged partial_claims."""
    days, _ = _results(POINTS)
    july = [d for d in days if d.period_start.month == 7]
    claimless = DayTotal(date(2024, 7, 31), 10, 1, 48, False)
    july[-1] = day_result(claimless, None, OFFICE, FACTOR, ended=True, final=False)
    month = month_result(july, ended=False, final=False)
    assert month.period == "month" and month.period_start == date(2024, 7, 1)
    assert month.metered_wh == sum(d.metered_wh for d in july)
    assert month.reduction_wh == sum(d.reduction_wh for d in july if d.reduction_wh is not None)
    assert month.co2_avoided_g == sum(d.co2_avoided_g or 0 for d in july)
    assert month.intervals_present == sum(d.intervals_present for d in july)
    assert month.intervals_expected == sum(d.intervals_expected for d in july)
    assert {"partial_claims", "incomplete", "insufficient_coverage", "gaps"} <= set(month.flags)
    assert month.factor_ids == (FACTOR.id,)
    ended = month_result(
        [
            day_result(
                DayTotal(date(2024, 7, 1), 10, 48, 48, False), None, OFFICE, FACTOR, False, False
            )
        ],
        ended=True,
        final=True,
    )
    assert "incomplete" not in ended.flags and ended.final
    with pytest.raises(ValueError):
        month_result([], ended=True, final=True)


# --- attribution ------------------------------------------------------------------------------

SHARE_UNITS = 10**8  # financing_share has 8 decimal places (registry schema)


@given(
    value=st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    cuts=st.lists(st.integers(min_value=1, max_value=SHARE_UNITS), min_size=1, max_size=12),
)
def test_attribution_never_exceeds_the_asset(value: int, cuts: list[int]) -> None:
    """Shares of one asset (summing to <= 1) never add up to more than its figure, either sign."""
    points = sorted(set(cuts))
    units = [b - a for a, b in zip([0, *points], points, strict=False)]  # sum = max(cuts) <= 1
    shares = [Decimal(u).scaleb(-8) for u in units]
    parts = [attribute(value, s) for s in shares]
    assert all(p is not None for p in parts)
    ints = [p for p in parts if p is not None]
    for part, share in zip(ints, shares, strict=True):
        assert abs(part) <= abs(value)
        assert part * value >= 0  # never the opposite sign
        exact = Fraction(value) * Fraction(share)
        assert abs(part) <= abs(exact) < abs(part) + 1  # rounded toward zero
    assert abs(sum(ints)) <= abs(value)


def test_attribution_of_none_and_whole_share() -> None:
    """No figure attributes to None; a 100% share attributes the whole figure."""
    assert attribute(None, Decimal("0.5")) is None
    assert attribute(-12345, Decimal(1)) == -12345
    third = Decimal("0.33333333")
    for value in (7, -7, 10**18 + 1, -(10**18) - 1):
        assert attribute(value, third) == int(Fraction(value) * Fraction(third))  # toward zero


# --- determinism ------------------------------------------------------------------------------


def _run_pipeline() -> tuple[object, ...]:
    rng = np.random.default_rng(11)
    temps = 16 - 10 * np.cos(2 * np.pi * (np.arange(365) - 20) / 365) + rng.normal(0, 2.5, 365)
    energy_wh = (300_000 + 9000 * np.maximum(14 - temps, 0) + 15000 * np.maximum(temps - 21, 0)) * (
        1 + rng.normal(0, 0.03, 365)
    )
    fit = fit_daily_baseline(temps.tolist(), energy_wh.tolist())
    method = BaselineMethod(fit=fit)
    totals = aggregate_days(POINTS, HALF_HOUR, TZ, FIRST, LAST)
    temp_total = DayTotal(FIRST, 2650 * 48, 48, 48, False)  # 26.5 C all day
    t = mean_temperature_c(temp_total)
    days = [day_result(x, t, method, FACTOR, ended=True, final=False) for x in totals]
    months = month_result([d for d in days if d.period_start.month == 7], True, False)
    return fit, fit_summary(fit), tuple(days), months


def test_same_inputs_give_identical_outputs() -> None:
    """Two runs of fit + results on the same inputs are equal, down to their repr."""
    first, second = _run_pipeline(), _run_pipeline()
    assert first == second
    assert repr(first) == repr(second)
