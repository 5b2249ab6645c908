"""impact calculation

Revision ID: 711edbc17dcd
Revises: 2b98a55df18c
Create Date: 2026-11-22 00:24:21.839433
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "711edbc17dcd"
down_revision: str | None = "2b98a55df18c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emission_factor",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("kg_co2_per_kwh", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("publisher", sa.String(length=200), nullable=False),
        sa.Column("document", sa.String(length=500), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=True),
        sa.Column("needs_verification", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('location_grid_average', 'supplier_basic', 'supplier_adjusted')",
            name=op.f("ck_emission_factor_kind_known"),
        ),
        sa.CheckConstraint(
            "kg_co2_per_kwh >= 0", name=op.f("ck_emission_factor_factor_not_negative")
        ),
        sa.CheckConstraint(
            "valid_to > valid_from", name=op.f("ck_emission_factor_period_not_empty")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emission_factor")),
        sa.UniqueConstraint(
            "region",
            "kind",
            "valid_from",
            "valid_to",
            "published_on",
            name=op.f("uq_emission_factor_region_kind_valid_from_valid_to_published_on"),
        ),
    )
    op.create_table(
        "asset_progress",
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("results_through", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_asset_progress_asset_id_green_asset")
        ),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_asset_progress")),
    )
    op.create_table(
        "benchmark_config",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method IN ('intensity', 'baseline', 'series', 'generation')",
            name=op.f("ck_benchmark_config_method_known"),
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_benchmark_config_asset_id_green_asset")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benchmark_config")),
        sa.UniqueConstraint(
            "asset_id", "effective_from", name=op.f("uq_benchmark_config_asset_id_effective_from")
        ),
    )
    op.create_table(
        "baseline_fit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "benchmark_config_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("inputs_sha256", sa.String(length=64), nullable=False),
        sa.Column("fit_json", sa.Text(), nullable=True),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["benchmark_config_id"],
            ["benchmark_config.id"],
            name=op.f("fk_baseline_fit_benchmark_config_id_benchmark_config"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baseline_fit")),
    )
    with op.batch_alter_table("baseline_fit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_baseline_fit_benchmark_config_id"), ["benchmark_config_id"], unique=False
        )

    op.create_table(
        "meter_day",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value_sum", sa.BigInteger(), nullable=False),
        sa.Column("present", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_day_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("meter_id", "day", name=op.f("pk_meter_day")),
    )
    op.create_table(
        "reading_change",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("utc_day", sa.Date(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_reading_change_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("meter_id", "utc_day", name=op.f("pk_reading_change")),
    )
    op.create_table(
        "impact_result",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "supersedes_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("metered_wh", sa.BigInteger(), nullable=False),
        sa.Column("benchmark_wh", sa.BigInteger(), nullable=True),
        sa.Column("reduction_wh", sa.BigInteger(), nullable=True),
        sa.Column("co2_avoided_g", sa.BigInteger(), nullable=True),
        sa.Column("intervals_present", sa.Integer(), nullable=False),
        sa.Column("intervals_expected", sa.Integer(), nullable=False),
        sa.Column("flags", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("method_version", sa.String(length=32), nullable=False),
        sa.Column(
            "benchmark_config_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "baseline_fit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("factor_ids", sa.String(length=200), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "period IN ('day', 'month')", name=op.f("ck_impact_result_period_known")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_impact_result_asset_id_green_asset")
        ),
        sa.ForeignKeyConstraint(
            ["baseline_fit_id"],
            ["baseline_fit.id"],
            name=op.f("fk_impact_result_baseline_fit_id_baseline_fit"),
        ),
        sa.ForeignKeyConstraint(
            ["benchmark_config_id"],
            ["benchmark_config.id"],
            name=op.f("fk_impact_result_benchmark_config_id_benchmark_config"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["impact_result.id"],
            name=op.f("fk_impact_result_supersedes_id_impact_result"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_result")),
        sa.UniqueConstraint(
            "asset_id",
            "period",
            "period_start",
            "revision",
            name=op.f("uq_impact_result_asset_id_period_period_start_revision"),
        ),
    )
    with op.batch_alter_table("impact_result", schema=None) as batch_op:
        batch_op.create_index("ix_impact_result_open", ["final", "period"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("impact_result", schema=None) as batch_op:
        batch_op.drop_index("ix_impact_result_open")

    op.drop_table("impact_result")
    op.drop_table("reading_change")
    op.drop_table("meter_day")
    with op.batch_alter_table("baseline_fit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baseline_fit_benchmark_config_id"))

    op.drop_table("baseline_fit")
    op.drop_table("benchmark_config")
    op.drop_table("asset_progress")
    op.drop_table("emission_factor")
