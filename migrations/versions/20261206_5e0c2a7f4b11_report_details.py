"""report details and published reports

What the issuer declares for its reports (bond: how unallocated proceeds are held; asset:
location, description, capacity; allocation: eligible category, project cost, financing or
refinancing, allocation date, expected annual impact) and the reports published for closed
periods (each one a ``report`` leaf of the log).

Revision ID: 5e0c2a7f4b11
Revises: d41567a13d2b
Create Date: 2026-12-06 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0c2a7f4b11"
down_revision: str | None = "d41567a13d2b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EXPECTED = sa.Numeric(14, 3)


def upgrade() -> None:
    with op.batch_alter_table("bond") as batch:
        batch.add_column(sa.Column("unallocated_held_as", sa.Text(), nullable=True))
    with op.batch_alter_table("green_asset") as batch:
        batch.add_column(sa.Column("location", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("capacity_kw", sa.Numeric(14, 3), nullable=True))
    with op.batch_alter_table("allocation") as batch:
        batch.add_column(sa.Column("eligible_category", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("project_cost", sa.Numeric(15, 2), nullable=True))
        batch.add_column(
            sa.Column("refinancing", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("lookback_years", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("allocated_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("expected_energy_savings_mwh", EXPECTED, nullable=True))
        batch.add_column(sa.Column("expected_co2_avoided_t", EXPECTED, nullable=True))
        batch.add_column(sa.Column("expected_generation_mwh", EXPECTED, nullable=True))
        batch.create_check_constraint(
            op.f("ck_allocation_eligible_category_known"),
            "eligible_category IS NULL OR eligible_category IN "
            "('energy_efficiency', 'renewable_energy', 'green_buildings')",
        )
    op.create_table(
        "published_report",
        sa.Column("id", ID, nullable=False),
        sa.Column("bond_id", ID, nullable=False),
        sa.Column("period_kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("checkpoint_number", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_tree_size", sa.BigInteger(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("content_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bond_id"], ["bond.id"], name=op.f("fk_published_report_bond_id_bond")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_report")),
        sa.UniqueConstraint("content_sha256", name=op.f("uq_published_report_content_sha256")),
    )
    op.create_index(
        op.f("ix_published_report_bond_id"), "published_report", ["bond_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_published_report_bond_id"), table_name="published_report")
    op.drop_table("published_report")
    with op.batch_alter_table("allocation") as batch:
        batch.drop_constraint(op.f("ck_allocation_eligible_category_known"), type_="check")
        for name in (
            "expected_generation_mwh",
            "expected_co2_avoided_t",
            "expected_energy_savings_mwh",
            "allocated_on",
            "lookback_years",
            "refinancing",
            "project_cost",
            "eligible_category",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("green_asset") as batch:
        for name in ("capacity_kw", "description", "location"):
            batch.drop_column(name)
    with op.batch_alter_table("bond") as batch:
        batch.drop_column("unallocated_held_as")
