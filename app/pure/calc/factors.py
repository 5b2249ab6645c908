"""Grid emission factors: selection by region, kind and day. Pure: no I/O."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

LOCATION_GRID_AVERAGE = "location_grid_average"


@dataclass(frozen=True)
class EmissionFactor:
    id: int
    region: str
    kind: str
    valid_from: date
    valid_to: date  # exclusive
    kg_co2_per_kwh: Decimal
    published_on: date


def japan_fiscal_year(day: date) -> int:
    """Japan's fiscal year N runs from 1 April N to 31 March N+1."""
    return day.year if day.month >= 4 else day.year - 1


def applies(factor: EmissionFactor, region: str, day: date) -> bool:
    """The factor is for this grid region and valid on this day."""
    return factor.region == region and factor.valid_from <= day < factor.valid_to


def select_factor(
    factors: Iterable[EmissionFactor], region: str, day: date, kind: str = LOCATION_GRID_AVERAGE
) -> EmissionFactor | None:
    """The factor valid on ``day``; among several versions for it, the latest published (then
    the latest registered)."""
    valid = [f for f in factors if f.kind == kind and applies(f, region, day)]
    return max(valid, key=lambda f: (f.published_on, f.id), default=None)


def co2_grams(energy_wh: int, factor: EmissionFactor) -> int:
    """Wh x kg/kWh = g. Rounded half to even, to whole grams."""
    return co2_grams_at(energy_wh, factor.kg_co2_per_kwh)


def co2_grams_at(energy_wh: int, kg_co2_per_kwh: Decimal) -> int:
    """``co2_grams`` of a factor's value alone (what a logged result states of its factor)."""
    return int((Decimal(energy_wh) * kg_co2_per_kwh).to_integral_value(ROUND_HALF_EVEN))
