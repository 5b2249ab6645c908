"""Admin bodies for benchmark configurations, emission factors and recomputes; result views."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.core.schemas import DbId, Output, StrictInput


class IntensityParams(StrictInput):
    method: Literal["intensity"] = "intensity"
    building_type: str = Field(
        examples=["office"],
        description="Selects the shipped reference intensity (docs/methodology.md) unless "
        "kwh_per_m2_year is given.",
    )
    kwh_per_m2_year: Decimal | None = Field(
        default=None, gt=0, max_digits=10, decimal_places=3, description="Issuer override."
    )
    reference_source: str | None = Field(default=None, max_length=300)


class BaselineParams(StrictInput):
    method: Literal["baseline"] = "baseline"
    baseline_start: date = Field(description="First day of the 365-day pre-retrofit baseline.")
    temperature_meter_id: DbId = Field(description="Outdoor temperature meter of the site.")
    baseline_data: Literal["days", "bills"] = Field(
        default="days",
        description="What the CalTRACK model is fitted on: the energy meters' metered days "
        "(daily model), or their imported bills (billing model). Stored only when 'bills'.",
    )


class SeriesValue(StrictInput):
    period_start: date
    energy_wh: int = Field(ge=0, lt=2**62)


class SeriesParams(StrictInput):
    method: Literal["series"] = "series"
    granularity: Literal["day", "month"]
    values: list[SeriesValue] = Field(min_length=1, max_length=10_000)
    source: str | None = Field(default=None, max_length=300, examples=["design-stage simulation"])

    @model_validator(mode="after")
    def _months_start_on_the_first(self) -> "SeriesParams":
        if self.granularity == "month":
            for i, v in enumerate(self.values):
                if v.period_start.day != 1:
                    raise ValueError(f"values[{i}].period_start must be the first of a month")
        return self


class GenerationParams(StrictInput):
    method: Literal["generation"] = "generation"


BenchmarkParams = Annotated[
    IntensityParams | BaselineParams | SeriesParams | GenerationParams,
    Field(discriminator="method"),
]


class BenchmarkConfigCreate(StrictInput):
    effective_from: date = Field(description="First local day this configuration applies to.")
    params: BenchmarkParams


class BenchmarkConfigOut(Output):
    id: int
    asset_id: int
    effective_from: date
    method: str
    params: dict[str, object]
    created_at: datetime


FactorKind = Literal["location_grid_average", "supplier_basic", "supplier_adjusted"]


class EmissionFactorCreate(StrictInput):
    region: str = Field(min_length=1, max_length=64, examples=["JP-national"])
    kind: FactorKind = "location_grid_average"
    valid_from: date = Field(examples=["2024-04-01"])
    valid_to: date = Field(description="Exclusive.", examples=["2025-04-01"])
    kg_co2_per_kwh: Decimal = Field(ge=0, max_digits=9, decimal_places=6, examples=["0.423"])
    publisher: str = Field(min_length=1, max_length=200)
    document: str = Field(min_length=1, max_length=500)
    published_on: date
    source_url: str | None = Field(default=None, max_length=500)
    needs_verification: bool = False
    note: str | None = None


class EmissionFactorOut(Output):
    id: int
    region: str
    kind: FactorKind
    valid_from: date
    valid_to: date
    kg_co2_per_kwh: Decimal
    publisher: str
    document: str
    published_on: date
    source_url: str | None
    needs_verification: bool
    note: str | None
    created_at: datetime


class RecomputeRequest(StrictInput):
    first_day: date
    last_day: date
    refresh_factors: bool = Field(
        default=True,
        description="Use the emission factor versions current now instead of the ones the "
        "existing results recorded.",
    )


class RecomputeResult(Output):
    days_recomputed: int
    new_revisions: int


class ImpactResultOut(Output):
    id: int
    asset_id: int
    period: Literal["day", "month"]
    period_start: date
    revision: int
    supersedes_id: int | None
    final: bool
    metered_wh: int
    benchmark_wh: int | None
    reduction_wh: int | None
    co2_avoided_g: int | None
    coverage: Decimal
    intervals_present: int
    intervals_expected: int
    flags: list[str]
    method: str
    method_version: str
    benchmark_config_id: int
    baseline_fit_id: int | None
    emission_factor_ids: list[int]
    computed_at: datetime
    savings_uncertainty_68_wh: int | None = None
    savings_uncertainty_90_wh: int | None = None


class BondPeriodImpact(Output):
    period_start: date
    assets_reduction_wh: int
    assets_co2_avoided_g: int
    attributed_reduction_wh: int
    attributed_co2_avoided_g: int
    final: bool
    attributed_savings_uncertainty_68_wh: int | None = None
    attributed_savings_uncertainty_90_wh: int | None = None


class BondImpactOut(Output):
    bond_id: int
    period: Literal["day", "month"]
    items: list[BondPeriodImpact]
