"""Admin API bodies for bonds, assets, allocations and meters."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from app.core.schemas import DbId, Output, Rfc3339Time, StrictInput
from app.pure.signing import parse_public_key

AssetKind = Literal["building", "renewable_facility"]
MeterQuantity = Literal["consumption", "generation", "outdoor_temperature"]
SECONDS_PER_DAY = 86_400


class BondCreate(StrictInput):
    code: str = Field(min_length=1, max_length=64, examples=["JP-GB-2026-001"])
    name: str = Field(min_length=1, max_length=200, examples=["Green Research Building Bond"])
    issuer: str = Field(min_length=1, max_length=200, examples=["Example University"])
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code", examples=["JPY"])
    amount_issued: Decimal = Field(ge=0, max_digits=15, decimal_places=2, examples=["1000000000"])
    issue_date: date
    maturity_date: date


class BondOut(Output):
    id: int
    code: str
    name: str
    issuer: str
    currency: str
    amount_issued: Decimal
    issue_date: date
    maturity_date: date
    created_at: datetime


class AssetCreate(StrictInput):
    code: str = Field(min_length=1, max_length=64, examples=["TKY-LAB-01"])
    name: str = Field(min_length=1, max_length=200, examples=["Carbon-neutral research building"])
    kind: AssetKind
    floor_area_m2: Decimal | None = Field(
        default=None, gt=0, max_digits=14, decimal_places=2, description="Required for buildings."
    )
    grid_region: str = Field(min_length=1, max_length=64, examples=["JP-national"])
    timezone: str = Field(
        default="Asia/Tokyo",
        description="IANA time zone of the site; days and months are the site's local ones.",
    )
    commissioning_date: date | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a tz directory
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class AssetFacts(Output):
    """What an asset is: the fields every view of it shows (admin and investor)."""

    id: int
    code: str
    name: str
    kind: AssetKind
    floor_area_m2: Decimal | None
    grid_region: str
    timezone: str = Field(description="IANA time zone: days and months are the site's local ones.")
    commissioning_date: date | None


class AssetOut(AssetFacts):
    created_at: datetime


class AllocationCreate(StrictInput):
    bond_id: DbId
    asset_id: DbId
    amount_allocated: Decimal = Field(ge=0, max_digits=15, decimal_places=2)
    financing_share: Decimal = Field(
        gt=0,
        le=1,
        max_digits=9,
        decimal_places=8,
        description="The bond's share of the asset's total financing, as a fraction (0, 1]. "
        "Shares of one asset may not add up to more than 1.",
        examples=["0.6"],
    )


class AllocationOut(Output):
    id: int
    bond_id: DbId
    asset_id: DbId
    amount_allocated: Decimal
    financing_share: Decimal
    created_at: datetime


class MeterCreate(StrictInput):
    asset_id: DbId
    device_id: str = Field(min_length=1, max_length=128, examples=["tky-lab-01-main"])
    quantity: MeterQuantity
    interval_s: int = Field(
        description="Interval length in seconds; must divide a day (e.g. 1800 for half-hourly).",
        examples=[1800],
    )
    public_key_hex: str = Field(
        description="The meter's Ed25519 public key, 32 bytes as 64 hex characters.",
        examples=["d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"],
    )
    installed_at: Rfc3339Time | None = Field(
        default=None,
        description="When the meter was installed (RFC 3339, stored in UTC): readings whose "
        "interval starts earlier are refused. Without it, readings before "
        "`GBT_INGEST_EARLIEST_READING` (default 2000-01-01T00:00:00Z) are refused.",
        examples=["2025-04-01T00:00:00Z"],
    )

    @field_validator("interval_s")
    @classmethod
    def _interval_divides_day(cls, value: int) -> int:
        if not 60 <= value <= SECONDS_PER_DAY or SECONDS_PER_DAY % value:
            raise ValueError("must be between 60 and 86400 and divide 86400 evenly")
        return value

    @field_validator("public_key_hex")
    @classmethod
    def _valid_key(cls, value: str) -> str:
        parse_public_key(value)
        return value.lower()


class MeterOut(Output):
    id: int
    asset_id: int
    device_id: str
    quantity: MeterQuantity
    interval_s: int
    public_key_hex: str
    installed_at: datetime | None
    active: bool
    created_at: datetime
    deactivated_at: datetime | None


# Report details: what the issuer declares for its reports (docs/reporting.md). Each PUT
# replaces the whole set (safe to retry).

EligibleCategory = Literal["energy_efficiency", "renewable_energy", "green_buildings"]
ExpectedFigure = Decimal | None


class BondReportDetails(StrictInput):
    unallocated_held_as: str | None = Field(
        default=None,
        max_length=2000,
        description="How proceeds not yet allocated are held meanwhile (free text).",
        examples=["Held in cash and cash equivalents (bank deposits)"],
    )


class AssetReportDetails(StrictInput):
    location: str | None = Field(default=None, max_length=200, examples=["Tokyo, Japan"])
    description: str | None = Field(
        default=None,
        max_length=2000,
        description="What the project is (事業概要).",
        examples=["ZEB-ready research building: insulation, LED, heat pumps, rooftop PV"],
    )
    capacity_kw: Decimal | None = Field(
        default=None,
        gt=0,
        max_digits=14,
        decimal_places=3,
        description="Installed capacity (kW) of a renewable plant; renewable facilities only.",
    )


def _expected(unit: str) -> Any:
    return Field(
        default=None,
        ge=0,
        max_digits=14,
        decimal_places=3,
        description=f"Expected (ex ante) annual figure the issuer registered, in {unit}.",
    )


class AllocationReportDetails(StrictInput):
    eligible_category: EligibleCategory = Field(
        description="ICMA Green Bond Principles eligible category."
    )
    project_cost: Decimal | None = Field(
        default=None,
        gt=0,
        max_digits=15,
        decimal_places=2,
        description="Total cost (or total financing) of the project, in the bond's currency; "
        "at least the amount allocated.",
    )
    refinancing: bool = Field(
        default=False, description="True when the proceeds refinance an existing project."
    )
    lookback_years: int | None = Field(
        default=None,
        ge=1,
        le=10,
        description="Look-back period of a refinancing (years before issuance); refinancing only.",
    )
    allocated_on: date | None = Field(
        default=None, description="Date the proceeds were allocated (default: when recorded)."
    )
    expected_energy_savings_mwh: ExpectedFigure = _expected("MWh/year")
    expected_co2_avoided_t: ExpectedFigure = _expected("t-CO2/year")
    expected_generation_mwh: ExpectedFigure = _expected("MWh/year")
