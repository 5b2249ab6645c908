"""bond rollups

Monthly per-bond roll-ups of day results. Existing results are rolled up by the impact job on
its first pass (``bond_rollup_built`` starts empty, so every allocation is built once).

Revision ID: 6c2dd9cb2ae9
Revises: 01fbe9687483
Create Date: 2026-11-22 02:33:35.583452
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6c2dd9cb2ae9"
down_revision: str | None = "01fbe9687483"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bond_asset_month",
        sa.Column("bond_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("month_start", sa.Date(), nullable=False),
        sa.Column("reduction_wh", sa.BigInteger(), nullable=False),
        sa.Column("co2_avoided_g", sa.BigInteger(), nullable=False),
        sa.Column("attributed_reduction_wh", sa.BigInteger(), nullable=False),
        sa.Column("attributed_co2_avoided_g", sa.BigInteger(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("provisional_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_bond_asset_month_asset_id_green_asset")
        ),
        sa.ForeignKeyConstraint(
            ["bond_id"], ["bond.id"], name=op.f("fk_bond_asset_month_bond_id_bond")
        ),
        sa.PrimaryKeyConstraint(
            "bond_id", "asset_id", "month_start", name=op.f("pk_bond_asset_month")
        ),
    )
    op.create_table(
        "bond_rollup_built",
        sa.Column(
            "allocation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocation.id"],
            name=op.f("fk_bond_rollup_built_allocation_id_allocation"),
        ),
        sa.PrimaryKeyConstraint("allocation_id", name=op.f("pk_bond_rollup_built")),
    )


def downgrade() -> None:
    op.drop_table("bond_rollup_built")
    op.drop_table("bond_asset_month")
