"""Registry tables: what the bond financed and which meters measure it."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from app.core.db import Base, BigId, ExactDecimal, UtcDateTime

# 15 significant digits: exact on SQLite (which keeps NUMERIC as a double) and PostgreSQL.
# 13 integer digits hold any bond (10 trillion in JPY); 2 decimals hold cents.
Money = ExactDecimal(15, 2)
# An expected annual figure (MWh or t-CO2), to the kWh or kg.
ExpectedFigure = ExactDecimal(14, 3)


class Bond(Base):
    __tablename__ = "bond"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    amount_issued: Mapped[Decimal] = mapped_column(Money)
    issue_date: Mapped[date] = mapped_column(Date)
    maturity_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Report details the issuer declares (PUT .../report-details): how proceeds not yet
    # allocated are held meanwhile.
    unallocated_held_as: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("amount_issued >= 0", name="amount_issued_not_negative"),
        CheckConstraint("maturity_date > issue_date", name="matures_after_issue"),
    )


class GreenAsset(Base):
    __tablename__ = "green_asset"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    floor_area_m2: Mapped[Decimal | None] = mapped_column(ExactDecimal(14, 2))
    grid_region: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64))
    commissioning_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Report details the issuer declares: where the project is, what it is (事業概要), and a
    # renewable plant's capacity.
    location: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    capacity_kw: Mapped[Decimal | None] = mapped_column(ExactDecimal(14, 3))

    __table_args__ = (
        CheckConstraint("kind IN ('building', 'renewable_facility')", name="kind_known"),
        CheckConstraint("floor_area_m2 IS NULL OR floor_area_m2 > 0", name="floor_area_positive"),
    )


class Allocation(Base):
    """Proceeds of a bond allocated to an asset; ``financing_share`` drives attribution."""

    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bond_id: Mapped[int] = mapped_column(ForeignKey("bond.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"), index=True)
    amount_allocated: Mapped[Decimal] = mapped_column(Money)
    financing_share: Mapped[Decimal] = mapped_column(ExactDecimal(9, 8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Report details the issuer declares (docs/reporting.md): the ICMA eligible category, the
    # project's total cost, financing or refinancing (with the look-back period), the date of
    # allocation, and the expected (ex ante) annual impact.
    eligible_category: Mapped[str | None] = mapped_column(String(32))
    project_cost: Mapped[Decimal | None] = mapped_column(Money)
    refinancing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    lookback_years: Mapped[int | None] = mapped_column(Integer)
    allocated_on: Mapped[date | None] = mapped_column(Date)
    expected_energy_savings_mwh: Mapped[Decimal | None] = mapped_column(ExpectedFigure)
    expected_co2_avoided_t: Mapped[Decimal | None] = mapped_column(ExpectedFigure)
    expected_generation_mwh: Mapped[Decimal | None] = mapped_column(ExpectedFigure)

    __table_args__ = (
        UniqueConstraint("bond_id", "asset_id"),
        CheckConstraint("amount_allocated >= 0", name="amount_not_negative"),
        CheckConstraint(
            "financing_share > 0 AND financing_share <= 1", name="financing_share_in_range"
        ),
        CheckConstraint(
            "eligible_category IS NULL OR eligible_category IN "
            "('energy_efficiency', 'renewable_energy', 'green_buildings')",
            name="eligible_category_known",
        ),
    )


class Meter(Base):
    __tablename__ = "meter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(128), unique=True)
    quantity: Mapped[str] = mapped_column(String(32))
    interval_s: Mapped[int] = mapped_column(Integer)
    public_key_hex: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Readings whose interval starts before this are refused (docs/ingest-signing.md).
    installed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(
            "quantity IN ('consumption', 'generation', 'outdoor_temperature')",
            name="quantity_known",
        ),
        CheckConstraint("interval_s > 0", name="interval_positive"),
    )
