"""Impact tables: benchmark configurations, emission factors, baseline fits, per-meter daily
totals (a derived cache) and the results themselves."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from app.core.db import Base, BigId, ExactDecimal, UtcDateTime


class BenchmarkConfig(Base):
    """How an asset's benchmark is computed from ``effective_from`` on. Append-only."""

    __tablename__ = "benchmark_config"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(32))
    params_json: Mapped[str] = mapped_column(Text)  # canonical JSON (sorted keys)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("asset_id", "effective_from"),
        CheckConstraint(
            "method IN ('intensity', 'baseline', 'series', 'generation')", name="method_known"
        ),
    )


class EmissionFactorVersion(Base):
    """A published grid emission factor. Append-only: a revised value is a new version."""

    __tablename__ = "emission_factor"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    kg_co2_per_kwh: Mapped[Decimal] = mapped_column(ExactDecimal(9, 6))
    publisher: Mapped[str] = mapped_column(String(200))
    document: Mapped[str] = mapped_column(String(500))
    published_on: Mapped[date] = mapped_column(Date)
    source_url: Mapped[str | None] = mapped_column(String(500))
    needs_verification: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("region", "kind", "valid_from", "valid_to", "published_on"),
        CheckConstraint("valid_to > valid_from", name="period_not_empty"),
        CheckConstraint("kg_co2_per_kwh >= 0", name="factor_not_negative"),
        CheckConstraint(
            "kind IN ('location_grid_average', 'supplier_basic', 'supplier_adjusted')",
            name="kind_known",
        ),
    )


class BaselineFitRecord(Base):
    """The fit a baseline configuration produced, as disclosed. A new row whenever the baseline
    period's data changes; results name the fit they used."""

    __tablename__ = "baseline_fit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    benchmark_config_id: Mapped[int] = mapped_column(ForeignKey("benchmark_config.id"), index=True)
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    fit_json: Mapped[str | None] = mapped_column(Text)  # None: insufficient baseline data
    summary: Mapped[str] = mapped_column(String(200))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MeterDay(Base):
    """A meter's total for one local day of its site: derived from readings, rebuilt at will."""

    __tablename__ = "meter_day"

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value_sum: Mapped[int] = mapped_column(BigInteger)
    present: Mapped[int] = mapped_column(Integer)
    expected: Mapped[int] = mapped_column(Integer)
    corrected: Mapped[bool] = mapped_column(Boolean)
    # some of the day's readings were imported by the issuer (not signed by the meter)
    attested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ImpactResult(Base):
    """One revision of an asset's result for a day or a calendar month (local to the site).

    A provisional row (``final`` false: the period or its grace time is still open) may be
    replaced in place; a final row never changes, a later change is revision n+1.
    """

    __tablename__ = "impact_result"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"))
    period: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("impact_result.id"))
    final: Mapped[bool] = mapped_column(Boolean)
    metered_wh: Mapped[int] = mapped_column(BigInteger)
    benchmark_wh: Mapped[int | None] = mapped_column(BigInteger)
    reduction_wh: Mapped[int | None] = mapped_column(BigInteger)
    co2_avoided_g: Mapped[int | None] = mapped_column(BigInteger)
    intervals_present: Mapped[int] = mapped_column(Integer)
    intervals_expected: Mapped[int] = mapped_column(Integer)
    flags: Mapped[str] = mapped_column(String(300))  # comma-separated, sorted
    method: Mapped[str] = mapped_column(String(32))
    method_version: Mapped[str] = mapped_column(String(32))
    benchmark_config_id: Mapped[int] = mapped_column(ForeignKey("benchmark_config.id"))
    baseline_fit_id: Mapped[int | None] = mapped_column(ForeignKey("baseline_fit.id"))
    factor_ids: Mapped[str] = mapped_column(String(200))  # comma-separated emission_factor ids
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # +- Wh at 68 % and 90 % confidence (ASHRAE Guideline 14); null: the result states none
    savings_uncertainty_68_wh: Mapped[int | None] = mapped_column(BigInteger)
    savings_uncertainty_90_wh: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("asset_id", "period", "period_start", "revision"),
        CheckConstraint("period IN ('day', 'month')", name="period_known"),
        Index("ix_impact_result_open", "final", "period"),
    )


class AssetProgress(Base):
    """Per asset: the last local day that has a result (days after it are created as time
    passes, even when no reading arrives, so a silent meter shows as a gap, not as nothing)."""

    __tablename__ = "asset_progress"

    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"), primary_key=True)
    results_through: Mapped[date] = mapped_column(Date)


class BondAssetMonth(Base):
    """Per bond, asset and local month: the asset's day results (latest revisions, days from the
    bond's issue date on) summed, as the asset's figures and as attributed to the bond (each day
    rounded toward zero, as in checkpoint totals). Kept in step with the results by the impact
    job, so a bond summary reads a dozen rows per asset-year instead of every day."""

    __tablename__ = "bond_asset_month"

    bond_id: Mapped[int] = mapped_column(ForeignKey("bond.id"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"), primary_key=True)
    month_start: Mapped[date] = mapped_column(Date, primary_key=True)
    reduction_wh: Mapped[int] = mapped_column(BigInteger)
    co2_avoided_g: Mapped[int] = mapped_column(BigInteger)
    attributed_reduction_wh: Mapped[int] = mapped_column(BigInteger)
    attributed_co2_avoided_g: Mapped[int] = mapped_column(BigInteger)
    days: Mapped[int] = mapped_column(Integer)
    provisional_days: Mapped[int] = mapped_column(Integer)
    # The days (from the issue date on) that state a savings uncertainty, their benchmark summed
    # and the fit of the latest of them: a period's uncertainty is evaluated on these together
    # (docs/methodology.md), it cannot be summed from the months' own.
    uncertainty_days: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    uncertainty_benchmark_wh: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default=text("0")
    )
    uncertainty_fit_id: Mapped[int | None] = mapped_column(ForeignKey("baseline_fit.id"))


class BondRollupBuilt(Base):
    """Allocations whose earlier months have been rolled up into ``bond_asset_month`` (once, by
    the job, after the allocation is created; later result changes keep the rows in step)."""

    __tablename__ = "bond_rollup_built"

    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocation.id"), primary_key=True)
