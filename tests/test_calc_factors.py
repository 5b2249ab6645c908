"""Emission factor selection (region, kind, day, Japan fiscal year) and the CO2 arithmetic."""

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from app.pure.calc.days import DayTotal
from app.pure.calc.factors import (
    LOCATION_GRID_AVERAGE,
    EmissionFactor,
    co2_grams,
    japan_fiscal_year,
    select_factor,
)
from app.pure.calc.methods import IntensityMethod
from app.pure.calc.results import day_result

REGION = "JP"


def fiscal_year_factor(
    fy: int,
    kg: str,
    *,
    id_: int | None = None,
    published_on: date | None = None,
    region: str = REGION,
    kind: str = LOCATION_GRID_AVERAGE,
) -> EmissionFactor:
    """Japan publishes per fiscal year: valid [1 April FY, 1 April FY+1)."""
    return EmissionFactor(
        id=fy if id_ is None else id_,
        region=region,
        kind=kind,
        valid_from=date(fy, 4, 1),
        valid_to=date(fy + 1, 4, 1),
        kg_co2_per_kwh=Decimal(kg),
        published_on=published_on or date(fy + 1, 12, 1),
    )


def test_japan_fiscal_year_changes_on_1_april() -> None:
    """31 March belongs to the previous fiscal year, 1 April starts the new one."""
    for year in range(2019, 2031):
        assert japan_fiscal_year(date(year, 3, 31)) == year - 1
        assert japan_fiscal_year(date(year, 4, 1)) == year
        assert japan_fiscal_year(date(year, 1, 1)) == year - 1
        assert japan_fiscal_year(date(year, 12, 31)) == year


def test_31_march_uses_old_factor_and_1_april_the_new_one() -> None:
    """At the fiscal-year boundary valid_to is exclusive: 31 March old FY, 1 April new FY."""
    old, new = fiscal_year_factor(2023, "0.434000"), fiscal_year_factor(2024, "0.421000")
    factors = [new, old]
    assert select_factor(factors, REGION, date(2024, 3, 31)) == old
    assert select_factor(factors, REGION, date(2024, 4, 1)) == new
    assert select_factor(factors, REGION, old.valid_to) == new
    assert select_factor(factors, REGION, old.valid_to - timedelta(days=1)) == old


def test_every_day_gets_the_factor_of_its_fiscal_year() -> None:
    """Over several years, the selected factor is the one of the day's Japan fiscal year."""
    factors = [fiscal_year_factor(fy, f"0.4{fy % 100:02d}000") for fy in range(2020, 2026)]
    day = date(2020, 4, 1)
    while day < date(2026, 4, 1):
        selected = select_factor(factors, REGION, day)
        assert selected is not None
        assert selected.valid_from.year == japan_fiscal_year(day)
        day += timedelta(days=1)


def test_latest_published_version_wins_regardless_of_order() -> None:
    """Among several versions for the same period the latest published wins (then the latest id)."""
    first = fiscal_year_factor(2024, "0.450000", id_=1, published_on=date(2025, 1, 10))
    revised = fiscal_year_factor(2024, "0.441000", id_=2, published_on=date(2025, 6, 30))
    older_but_newer_id = fiscal_year_factor(2024, "0.460000", id_=3, published_on=date(2024, 12, 1))
    same_day_later_id = fiscal_year_factor(2024, "0.442000", id_=4, published_on=date(2025, 6, 30))
    day = date(2024, 11, 5)
    assert select_factor([first, revised, older_but_newer_id], REGION, day) == revised
    versions = [first, revised, older_but_newer_id, same_day_later_id]
    rng = random.Random(7)
    for _ in range(10):
        rng.shuffle(versions)
        assert select_factor(versions, REGION, day) == same_day_later_id


def test_region_and_kind_must_match() -> None:
    """Only the asset's region and the location-based grid average kind are used."""
    other_region = fiscal_year_factor(2024, "0.500000", id_=1, region="KR")
    supplier = fiscal_year_factor(2024, "0.300000", id_=2, kind="supplier_basic")
    mine = fiscal_year_factor(2024, "0.421000", id_=3, published_on=date(2020, 1, 1))
    day = date(2024, 7, 1)
    assert select_factor([other_region, supplier, mine], REGION, day) == mine
    assert select_factor([other_region, supplier], REGION, day) is None
    assert select_factor([supplier], REGION, day, kind="supplier_basic") == supplier


def test_no_valid_factor_gives_none() -> None:
    """A day outside every factor's validity has no factor."""
    factors = [fiscal_year_factor(2023, "0.434000")]
    assert select_factor(factors, REGION, date(2024, 4, 1)) is None
    assert select_factor(factors, REGION, date(2023, 3, 31)) is None
    assert select_factor([], REGION, date(2024, 1, 1)) is None


def test_day_without_factor_flags_no_emission_factor_and_has_no_co2() -> None:
    """No factor: the reduction is still shown, CO2 is None and the day is flagged."""
    day = date(2024, 4, 1)
    factor = select_factor([fiscal_year_factor(2023, "0.434000")], REGION, day)
    assert factor is None
    energy = DayTotal(day, value_sum=48 * 1000, present=48, expected=48, corrected=False)
    method = IntensityMethod(kwh_per_m2_year=Decimal(185), floor_area_m2=Decimal(1000))
    result = day_result(energy, None, method, factor, ended=True, final=True)
    assert result.reduction_wh is not None
    assert result.co2_avoided_g is None
    assert "no_emission_factor" in result.flags
    assert result.factor_ids == ()

    present = fiscal_year_factor(2024, "0.421000", id_=99)
    with_factor = day_result(energy, None, method, present, ended=True, final=True)
    assert with_factor.co2_avoided_g == co2_grams(with_factor.reduction_wh or 0, present)
    assert "no_emission_factor" not in with_factor.flags
    assert with_factor.factor_ids == (present.id,)


def test_co2_units_wh_times_kg_per_kwh_is_grams() -> None:
    """1 kWh at f kg/kWh is f kg, i.e. 1000 * f grams."""
    factor = fiscal_year_factor(2024, "0.421000")
    assert co2_grams(1000, factor) == int(factor.kg_co2_per_kwh * 1000)
    assert co2_grams(0, factor) == 0
    assert co2_grams(-1000, factor) == -int(factor.kg_co2_per_kwh * 1000)


def test_co2_rounds_half_to_even() -> None:
    """Exact halves of a gram round to the even neighbour (banker's rounding)."""
    factor = fiscal_year_factor(2024, "0.500000")
    for wh in (1, 3, 5, 7, -1, -3):
        exact = Fraction(wh) * Fraction(str(factor.kg_co2_per_kwh))
        assert exact.denominator == 2  # really a half
        assert co2_grams(wh, factor) == round(exact)  # Fraction.__round__ is half-even
        assert co2_grams(wh, factor) % 2 == 0


@given(
    wh=st.integers(min_value=-(10**15), max_value=10**15),
    micro_kg=st.integers(min_value=0, max_value=2_000_000),
)
def test_co2_grams_matches_exact_rational_arithmetic(wh: int, micro_kg: int) -> None:
    """co2_grams equals the exact product Wh x kg/kWh rounded half-even, for any energy."""
    kg = Decimal(micro_kg).scaleb(-6)
    factor = fiscal_year_factor(2024, str(kg))
    assert co2_grams(wh, factor) == round(Fraction(wh) * Fraction(micro_kg, 10**6))
